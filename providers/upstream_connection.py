"""The pooled connections to the upstreams, made lean for the request path: a request leaves in one
write, a pooled connection is checked without a pass of gevent's event loop, and a response is read
through a small buffer, which a held stream keeps for its whole life (docs/streaming.md)."""
import http.client

import requests
import urllib3

from unyielding import readable_now

# Big enough for a response's head and an SSE event or two; http.client's own, 8 KB, was a tenth
# of a held stream's memory. A bigger read goes straight to the caller's buffer anyway.
READ_BUFFER_BYTES = 2048


def new_session():
    """One pooled session for all upstream calls, which go straight to its adapter (relay.py). It
    keeps as many idle connections as a worker may have callers (gunicorn.conf.py), so that none
    is dropped when a burst of streams ends."""
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(pool_connections=8, pool_maxsize=10000)
    adapter.poolmanager.pool_classes_by_scheme = {"http": _Pool, "https": _TLSPool}
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


class _SmallBufferResponse(http.client.HTTPResponse):

    def __init__(self, sock, *args, **kwargs):
        super().__init__(_SmallBuffer(sock), *args, **kwargs)


class _SmallBuffer:
    """A socket as http.client's response sees it: what it asks for is a reader over it."""

    def __init__(self, sock):
        self.sock = sock

    def makefile(self, mode):
        return self.sock.makefile(mode, buffering=READ_BUFFER_BYTES)


class _Lean:
    """A connection that sends a request's head and body in one write, not two: each write to a
    socket is a system call that also wakes the upstream's side, and on the request path the
    writes were the largest share of the gateway's CPU (docs/streaming.md). Its responses read
    through a small buffer."""

    response_class = _SmallBufferResponse

    _writes = None  # while a request is being written, what it has written so far

    def request(self, *args, **kwargs):
        self._writes = []
        try:
            super().request(*args, **kwargs)
            request = b"".join(self._writes)
        finally:
            self._writes = None
        super().send(request)

    def send(self, data):
        if self._writes is None:
            super().send(data)
        else:
            self._writes.append(data)

    @property
    def is_connected(self):
        """Asked of a pooled connection before it is reused: whether the upstream has not closed
        it (nothing to read yet). urllib3 asks through poll(), which gevent turns into a pass of
        the event loop with a timer of its own: under load, a wait behind every other request
        (docs/streaming.md). The system's own poll() answers at once."""
        return self.sock is not None and not readable_now(self.sock)


class _Connection(_Lean, urllib3.connection.HTTPConnection):
    pass


class _TLSConnection(_Lean, urllib3.connection.HTTPSConnection):
    pass


class _Pool(urllib3.HTTPConnectionPool):
    ConnectionCls = _Connection


class _TLSPool(urllib3.HTTPSConnectionPool):
    ConnectionCls = _TLSConnection
