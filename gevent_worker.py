"""gunicorn's gevent worker, made to stop without waiting on idle keep-alive connections.

Told to stop (SIGTERM from systemd, or a reload), gunicorn's own gevent worker stops accepting,
then waits for every open connection to end, up to `graceful_timeout`; a connection kept alive
between two requests ends only when its client closes it or `keepalive` runs out, so one idle
client (a requests.Session, an SDK, nginx's upstream pool) held every stop for the whole
`graceful_timeout`. This worker closes a connection waiting for its next request at once, and lets
a busy one finish its request (a stream ends with its `[DONE]` and is settled) before closing it.
"""
from contextlib import contextmanager

import gevent
from gunicorn.workers import ggevent

# Once a stop has begun, how long a connection may still take to send a request: one accepted in the
# moment before the worker stopped accepting is served (with `Connection: close`), not cut off.
LAST_REQUEST_SECONDS = 1.0


class GeventWorker(ggevent.GeventWorker):

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waiting = {}  # the greenlet of each connection waiting for a request → its wait

    @contextmanager
    def timeout_ctx(self):
        """gunicorn's wait for a connection's next request (`keepalive` seconds, then the
        connection closes), which a stop cuts short."""
        seconds = self.cfg.keepalive if self.alive else min(self.cfg.keepalive, LAST_REQUEST_SECONDS)
        connection = gevent.getcurrent()
        with gevent.Timeout(seconds, False) as wait:
            self.waiting[connection] = wait
            try:
                yield
            finally:
                del self.waiting[connection]

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        gevent.get_hub().loop.run_callback(self.close_waiting)

    def close_waiting(self):
        """End every wait for a request as if its time had run out: gunicorn then closes the
        connection. Run in the hub, where no connection can start a request meanwhile."""
        for connection, wait in list(self.waiting.items()):
            if self.waiting.get(connection) is wait:
                connection.throw(wait)
