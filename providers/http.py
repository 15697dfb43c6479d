"""A small HTTP/1.1 client for upstream calls: one write per request, keep-alive connections
pooled per origin, the response body read straight from the socket (docs/streaming.md).

`requests` spends more CPU preparing and parsing a call than the gateway spends on the rest of
it, and its read timeout leaves a stream unusable once it fires; here a read that times out can
simply be tried again, which is how the relay sends keep-alives while an upstream is silent.
Errors are the socket's own: TimeoutError for a timeout, OSError for a broken connection, and
ProtocolError (a ValueError) for an answer that is not HTTP.
"""
import socket
import ssl
import urllib.request
from functools import cache
from urllib.parse import urlsplit

MAX_IDLE_PER_ORIGIN = 64
MAX_HEAD_BYTES = 64 * 1024
READ_SIZE = 65536


class ProtocolError(ValueError):
    """The upstream's answer is not HTTP/1.1 as we can read it."""


@cache
def _tls():
    try:
        import certifi
        return ssl.create_default_context(cafile=certifi.where())
    except ImportError:
        return ssl.create_default_context()


class Origin:
    """Where requests for one scheme://host:port go, and its idle connections."""

    def __init__(self, url):
        parts = urlsplit(url)
        self.tls = parts.scheme == "https"
        self.host, self.port = parts.hostname, parts.port or (443 if self.tls else 80)
        self.host_header = parts.netloc.rsplit("@", 1)[-1]
        self.proxy = _proxy_for(url, self.host)
        self.idle = []

    def connect(self, timeout):
        if self.proxy and not self.tls:
            return socket.create_connection(self.proxy, timeout)
        sock = socket.create_connection(self.proxy or (self.host, self.port), timeout)
        if self.proxy:
            _tunnel(sock, self.host_header if ":" in self.host_header else f"{self.host}:{self.port}")
        if self.tls:
            sock = _tls().wrap_socket(sock, server_hostname=self.host)
        return sock

    def target(self, path):
        """The request target: the path, or the whole URL through a plain-HTTP proxy."""
        return f"http://{self.host_header}{path}" if self.proxy and not self.tls else path


def _proxy_for(url, host):
    """(host, port) of the proxy the environment names for `url` (HTTP(S)_PROXY, NO_PROXY)."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(urlsplit(url).scheme)
    if not proxy or urllib.request.proxy_bypass(host):
        return None
    parts = urlsplit(proxy if "://" in proxy else "http://" + proxy)
    return parts.hostname, parts.port or 80


def _tunnel(sock, authority):
    sock.sendall(f"CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n\r\n".encode())
    reader = Reader(sock)
    status, _ = reader.head()
    if status != 200:
        raise OSError(f"the proxy refused the tunnel to {authority} (HTTP {status})")


@cache
def origin(url):
    """The Origin of a URL's scheme, host and port; one per process."""
    return Origin(url)


def post(url, headers, payload, connect_timeout, read_timeout):
    """Send a POST and read the answer's head; the Response, whose body is still to be read."""
    place = origin(url)
    path = url[url.index("/", url.index("//") + 2):] if url.count("/") > 2 else "/"
    head = [f"POST {place.target(path)} HTTP/1.1\r\nHost: {place.host_header}\r\n"
            f"Content-Length: {len(payload)}\r\n"]
    head.extend(f"{name}: {value}\r\n" for name, value in headers.items())
    request = "".join(head).encode("latin-1") + b"\r\n" + payload
    while place.idle:
        sock = place.idle.pop()
        try:
            return _exchange(place, sock, request, read_timeout)
        except (OSError, ProtocolError) as error:
            sock.close()
            if not getattr(error, "before_answer", False):
                raise
            # An idle connection the upstream had closed: the request never reached it.
    sock = place.connect(connect_timeout)
    try:
        return _exchange(place, sock, request, read_timeout)
    except BaseException:
        sock.close()
        raise


def _exchange(place, sock, request, read_timeout):
    sock.settimeout(read_timeout)
    reader = Reader(sock)
    try:
        sock.sendall(request)
        first = reader.fill()
    except OSError as error:
        error.before_answer = True
        raise
    if not first:
        error = ProtocolError("the connection closed before an answer")
        error.before_answer = True
        raise error
    status, headers = reader.head()
    return Response(place, sock, reader, status, headers)


class Reader:
    """Buffered reading from a socket: the head's lines, then body bytes."""

    def __init__(self, sock):
        self.sock, self.buffer = sock, b""

    def fill(self):
        data = self.sock.recv(READ_SIZE)
        self.buffer += data
        return data

    def head(self):
        """(status, {lower-case name: value}) of the answer's head."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD_BYTES or not self.fill():
                raise ProtocolError("no complete HTTP head")
        head, self.buffer = self.buffer.split(b"\r\n\r\n", 1)
        status_line, *lines = head.decode("latin-1").split("\r\n")
        try:
            version, code = status_line.split(" ", 2)[:2]
            status = int(code)
        except ValueError:
            raise ProtocolError(f"not an HTTP status line: {status_line[:80]!r}") from None
        if not version.startswith("HTTP/1."):
            raise ProtocolError(f"not HTTP/1.x: {version[:20]!r}")
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return status, headers

    def take(self, most):
        """Up to `most` bytes: what is buffered, else one read from the socket (b"" at its end)."""
        if not self.buffer and not self.fill():
            return b""
        data, self.buffer = self.buffer[:most], self.buffer[most:]
        return data


class Response:
    """An answer whose body is read as it arrives: `read1()` until it returns b"", then `close()`
    gives the connection back to its pool when the body ended cleanly."""

    def __init__(self, place, sock, reader, status, headers):
        self.status_code, self.headers = status, headers
        self._place, self._sock, self._reader = place, sock, reader
        self._chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        length = headers.get("content-length")
        self._left = int(length) if length and length.isdigit() and not self._chunked else None
        self._chunk_left = 0  # data bytes left in the current chunk
        self._crlf_pending = False  # the CRLF after a chunk's data, read with the next size
        self._done = self._left == 0
        self._reusable = headers.get("connection", "").lower() != "close"

    def settimeout(self, seconds):
        self._sock.settimeout(seconds)

    def read1(self):
        """The next body bytes (one socket read at most); b"" once the body is complete."""
        if self._done:
            return b""
        if self._chunked:
            return self._read_chunked()
        data = self._reader.take(self._left if self._left is not None else READ_SIZE)
        if self._left is not None:
            if not data:
                raise ProtocolError("the body ended before its Content-Length")
            self._left -= len(data)
            self._done = self._left == 0
        elif not data:
            self._done, self._reusable = True, False  # the body runs until the connection closes
        return data

    def _read_chunked(self):
        if not self._chunk_left:
            if self._crlf_pending and self._line() != b"":
                raise ProtocolError("a chunk without its CRLF")
            try:
                self._chunk_left = int(self._line().split(b";")[0], 16)
            except ValueError:
                raise ProtocolError("a malformed chunk size") from None
            if not self._chunk_left:
                while self._line():  # the trailer, up to its blank line
                    pass
                self._done = True
                return b""
        data = self._reader.take(self._chunk_left)
        if not data:
            raise ProtocolError("the chunked body ended early")
        self._chunk_left -= len(data)
        self._crlf_pending = not self._chunk_left
        return data

    def _line(self):
        reader = self._reader
        while b"\r\n" not in reader.buffer:
            if len(reader.buffer) > MAX_HEAD_BYTES or not reader.fill():
                raise ProtocolError("the chunked body ended early")
        line, reader.buffer = reader.buffer.split(b"\r\n", 1)
        return line

    def close(self):
        """Give the connection back when the body was read to its end, else close it."""
        if self._sock is None:
            return
        sock, self._sock = self._sock, None
        idle = self._place.idle
        if self._done and self._reusable and not self._reader.buffer and len(idle) < MAX_IDLE_PER_ORIGIN:
            idle.append(sock)
        else:
            sock.close()

    def abort(self):
        """Shut the connection down from another greenlet: a read waiting on it wakes with an error."""
        sock = self._sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
