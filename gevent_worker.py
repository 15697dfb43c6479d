"""gunicorn's gevent worker, made to stop without waiting on idle keep-alive connections, to send
a response's head together with its first bytes of body, and to share connections evenly with the
other workers.

Told to stop (SIGTERM from systemd, or a reload), gunicorn's own gevent worker stops accepting,
then waits for every open connection to end, up to `graceful_timeout`; a connection kept alive
between two requests ends only when its client closes it or `keepalive` runs out, so one idle
client (a requests.Session, an SDK, nginx's upstream pool) held every stop for the whole
`graceful_timeout`. This worker closes a connection waiting for its next request at once, and lets
a busy one finish its request (a stream ends with its `[DONE]` and is settled) before closing it.

gunicorn writes a response's head, then its body, in two writes; each is a system call that also
wakes the caller's side, and writes were the largest share of a request's CPU in the profiles
(docs/streaming.md). `HeadWithBody` keeps the head back until the body's first bytes.

A worker that holds clearly more connections than another leaves a new connection to that one
(worker_loads.py): it stops accepting and looks again every `ACCEPT_RECHECK_SECONDS`. If the
connection is still waiting after `ACCEPT_DEFER_SECONDS`, it takes it: a busy or stuck worker
never leaves a caller unanswered.
"""
import time
from contextlib import contextmanager

import gevent
from gunicorn.workers import ggevent

from worker_loads import WorkerLoads

# Once a stop has begun, how long a connection may still take to send a request: one accepted in the
# moment before the worker stopped accepting is served (with `Connection: close`), not cut off.
LAST_REQUEST_SECONDS = 1.0
ACCEPT_RECHECK_SECONDS = 0.001
ACCEPT_DEFER_SECONDS = 0.02
# How many more connections than another worker (or a quarter more) a worker holds before it leaves
# new ones to that one. Every worker accepts while they are about even: under a burst of new
# connections at full CPU, a worker accepts one a pass of its event loop, and a pass is long.
ACCEPT_SLACK = 4

LOADS = WorkerLoads()  # made in the master at import, shared by every worker it forks


class GeventWorker(ggevent.GeventWorker):

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.waiting = {}  # the greenlet of each connection waiting for a request → its wait
        self.slot = LOADS.claim()  # in the master, before the fork

    def init_process(self):
        if self.slot is not None:
            LOADS.occupy(self.slot)
            BalancedStreamServer.slot = self.slot
        super().init_process()

    def run(self):
        try:
            super().run()
        finally:
            self.leave_loads()

    def leave_loads(self):
        """A stopping worker accepts no more: the others must not leave connections to it."""
        slot, BalancedStreamServer.slot = BalancedStreamServer.slot, None
        if slot is not None:
            LOADS.leave(slot)

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
        self.leave_loads()
        gevent.get_hub().loop.run_callback(self.close_waiting)

    def close_waiting(self):
        """End every wait for a request as if its time had run out: gunicorn then closes the
        connection. Run in the hub, where no connection can start a request meanwhile."""
        for connection, wait in list(self.waiting.items()):
            if self.waiting.get(connection) is wait:
                connection.throw(wait)


class BalancedStreamServer(ggevent.StreamServer):
    """gevent's server of a listening socket, which leaves a waiting connection to a worker that
    holds clearly fewer connections (`ACCEPT_SLACK`), for up to `ACCEPT_DEFER_SECONDS`."""

    slot = None  # this worker's slot in LOADS; None when not sharing
    held = 0  # this worker's open connections, on all its sockets (the pools' sizes lag behind)
    deferring_since = None  # when this worker began to leave the waiting connection to others
    last_deferred = 0.0

    def do_read(self):
        if self.slot is not None and self.leaves_it_to_another():
            self.stop_accepting()
            self.recheck = self.loop.timer(ACCEPT_RECHECK_SECONDS)
            self.recheck.start(self.accept_again)
            return None
        return super().do_read()

    def leaves_it_to_another(self):
        held, now = self.held, time.monotonic()
        fewest = LOADS.fewest_elsewhere(self.slot)
        if fewest is None or held <= fewest + max(ACCEPT_SLACK, fewest // 4):
            return False
        if self.deferring_since is None or now - self.last_deferred > 2 * ACCEPT_RECHECK_SECONDS:
            self.deferring_since = now  # a connection no other worker took in the meantime
        self.last_deferred = now
        if now - self.deferring_since < ACCEPT_DEFER_SECONDS:
            return True
        self.deferring_since = None  # it waited long enough: this worker takes it
        return False

    def accept_again(self):
        if self.started:
            self.start_accepting()

    def do_handle(self, *args):
        self.count(+1)
        super().do_handle(*args)

    def do_close(self, *args):
        super().do_close(*args)
        self.count(-1)

    @classmethod
    def count(cls, change):
        cls.held += change
        if cls.slot is not None:
            LOADS.publish(cls.slot, cls.held)


# gunicorn's gevent worker makes its servers by this name.
ggevent.StreamServer = BalancedStreamServer


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
