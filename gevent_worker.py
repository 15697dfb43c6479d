"""gunicorn's gevent worker, made to stop without waiting on idle keep-alive connections, and to
send a response's head together with its first bytes of body.

Told to stop (SIGTERM from systemd, or a reload), gunicorn's own gevent worker stops accepting,
then waits for every open connection to end, up to `graceful_timeout`; a connection kept alive
between two requests ends only when its client closes it or `keepalive` runs out, so one idle
client (a requests.Session, an SDK, nginx's upstream pool) held every stop for the whole
`graceful_timeout`. This worker closes a connection waiting for its next request at once, and lets
a busy one finish its request (a stream ends with its `[DONE]` and is settled) before closing it.

gunicorn writes a response's head, then its body, in two writes; each is a system call that also
wakes the caller's side, and writes were the largest share of a request's CPU in the profiles
(docs/streaming.md). `HeadWithBody` keeps the head back until the body's first bytes.
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

    def handle_request(self, listener_name, req, sock, addr):
        writer = HeadWithBody(sock)
        try:
            return super().handle_request(listener_name, req, writer, addr)
        finally:
            writer.flush()

    def handle_exit(self, sig, frame):
        super().handle_exit(sig, frame)
        gevent.get_hub().loop.run_callback(self.close_waiting)

    def close_waiting(self):
        """End every wait for a request as if its time had run out: gunicorn then closes the
        connection. Run in the hub, where no connection can start a request meanwhile."""
        for connection, wait in list(self.waiting.items()):
            if self.waiting.get(connection) is wait:
                connection.throw(wait)


class HeadWithBody:
    """A connection's socket as one response is written to it: the first write (the head) is kept
    back and leaves with the second (the body's first bytes), or when the response ends."""

    def __init__(self, sock):
        self.sock, self.head, self.written = sock, None, False

    def sendall(self, data):
        if not self.written:
            self.head, self.written = bytes(data), True
            return
        if self.head is not None:
            data, self.head = self.head + data, None
        self.sock.sendall(data)

    def sendfile(self, *args, **kwargs):
        self.flush()
        return self.sock.sendfile(*args, **kwargs)

    def close(self):
        """gunicorn closes the socket of a response that failed part-way: its head must not follow."""
        self.head = None
        self.sock.close()

    def flush(self):
        if self.head is not None:
            head, self.head = self.head, None
            self.sock.sendall(head)

    def __getattr__(self, name):
        return getattr(self.sock, name)
