"""Streaming load client (stdlib asyncio, raw sockets): K workers, each on its own keep-alive
connection, send streaming chat requests back to back for `duration` seconds. Per stream it
records the time to the first `data:` event (TTFB) and whether it completed: HTTP 200 that ends
with `data: [DONE]` and carries no error event.
"""
import asyncio
import time
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class StreamStats:
    completed: int = 0
    failed: int = 0
    cut: int = 0  # still open when the run ended
    events: int = 0
    elapsed: float = 0.0
    ttfbs: list = field(default_factory=list)

    @property
    def streams_per_s(self):
        return self.completed / self.elapsed if self.elapsed else 0.0

    @property
    def events_per_s(self):
        return self.events / self.elapsed if self.elapsed else 0.0


def run(url, headers, body, concurrency, duration, grace=5.0, ramp=0.0):
    """Run the load; streams still open `grace` seconds after `duration` are cut and counted.
    The workers start evenly over the first `ramp` seconds; each sends at least one stream."""
    return asyncio.run(_run(url, headers, body, concurrency, duration, grace, ramp))


async def _run(url, headers, body, concurrency, duration, grace, ramp):
    stats = StreamStats()
    parts = urlsplit(url)
    request = (f"POST {parts.path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
               f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
               + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n").encode() + body
    started = time.monotonic()
    workers = [asyncio.create_task(_worker(parts.hostname, parts.port, request, started + duration,
                                           stats, ramp * i / concurrency))
               for i in range(concurrency)]
    _, late = await asyncio.wait(workers, timeout=max(duration, ramp) + grace)
    for task in late:
        task.cancel()
    await asyncio.gather(*late, return_exceptions=True)
    stats.cut = len(late)
    stats.elapsed = time.monotonic() - started
    return stats


async def _worker(host, port, request, stop_at, stats, delay):
    await asyncio.sleep(delay)
    connection = None
    try:
        while True:
            try:
                connection = connection or await asyncio.open_connection(host, port)
                ok, ttfb, events, reusable = await _one_stream(*connection, request)
            except (OSError, EOFError, ValueError, asyncio.LimitOverrunError):
                ok, ttfb, events, reusable = False, None, 0, False
            if ok:
                stats.completed += 1
                stats.ttfbs.append(ttfb)
                stats.events += events
            else:
                stats.failed += 1
                await asyncio.sleep(0.05)  # no hot loop against a refusing server
            if not reusable:
                connection = _close(connection)
            if time.monotonic() >= stop_at:
                break
    finally:
        _close(connection)


def _close(connection):
    if connection:
        connection[1].close()


async def _one_stream(reader, writer, request):
    """(ok, ttfb seconds, data events, connection reusable) of one request."""
    sent = time.monotonic()
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    lower = head.lower()
    chunked = b"transfer-encoding: chunked" in lower
    length = _content_length(lower)
    body, ttfb, tail = [], None, b""
    while True:
        piece = await reader.read(65536 if length is None else length)
        if not piece:
            break
        body.append(piece)
        if ttfb is None and b"data:" in piece:
            ttfb = time.monotonic() - sent
        tail = (tail + piece)[-5:]
        if length is not None:
            length -= len(piece)
            if length <= 0:
                break
        if chunked and tail == b"0\r\n\r\n":
            break
    text = b"".join(body)
    ok = status == 200 and b"data: [DONE]" in text and b'"error"' not in text
    reusable = bool(piece) and (chunked or length is not None) and b"connection: close" not in lower
    return ok, ttfb, text.count(b"data:") - 1, reusable


def _content_length(head):
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return int(line.split(b":", 1)[1])
    return None
