"""Calling an upstream and relaying its answer: timeouts, deadlines, SSE keep-alives, cleanup.

`requests`' read timeout is the longest silence between bytes, not a total (docs/streaming.md), so
every call also has a total deadline, checked as bytes arrive.
"""
import functools
import inspect
import queue
import socket
import threading
import time
from dataclasses import dataclass

import requests
import urllib3

from errors import ApiError
from providers.base import UpstreamFailure, timed_out, unreachable
from providers.sse import data_event

KEEPALIVE = b": keep-alive\n\n"
MAX_ANSWER_BYTES = 64 * 1024 * 1024
_END = object()


@dataclass(frozen=True)
class Timeouts:
    """Seconds (defaults: gateway.config_from_env): to connect; of silence between bytes; for the
    whole call; of upstream silence before a `: keep-alive` goes to the client."""
    connect: float
    read: float
    total: float
    keepalive: float


@functools.cache
def _proxies(url):
    """The proxies the environment names for an upstream (HTTPS_PROXY, NO_PROXY…), read once."""
    return requests.utils.get_environ_proxies(url)


@functools.cache
def _template(url):
    """A POST to `url`, prepared once: preparing from scratch (URL parsing, merging the session's
    settings) costs more than sending."""
    template = requests.PreparedRequest()
    template.prepare(method="POST", url=url, headers={"Accept-Encoding": "identity"})
    return template


def _send(session, url, headers, payload, timeouts):
    prepared = _template(url).copy()
    prepared.headers.update(headers)
    prepared.headers["Content-Length"] = str(len(payload))
    prepared.body = payload
    return session.get_adapter(url).send(prepared, stream=True, proxies=_proxies(url),
                                         timeout=(timeouts.connect, timeouts.read))


def open_upstream(session, upstream, body, stream, timeouts):
    """Send the request; the live response once the upstream answered 2xx, else an ApiError."""
    provider = upstream.provider
    try:
        response = _send(session, *provider.request(upstream, body, stream), timeouts)
    except requests.Timeout:
        raise timed_out(provider.name) from None
    except requests.RequestException:
        raise unreachable(provider.name) from None
    if response.status_code >= 400:
        with response:
            payload = _read_all(response, time.monotonic() + timeouts.read, 64 * 1024, provider)
        raise provider.error(response.status_code, payload, response.headers.get("Retry-After"))
    return response


def read_completion(response, upstream, timeouts, started):
    """The whole non-streaming answer and its usage, within the total deadline."""
    with response:
        payload = _read_all(response, started + timeouts.total, MAX_ANSWER_BYTES, upstream.provider)
    return upstream.provider.completion(payload)


class Stream:
    """The upstream's events as a WSGI iterable: each event as it arrives, `: keep-alive` while the
    upstream is silent, an error event (`error_event(ApiError)`: bytes in the caller's API) if it
    fails part-way. `begin()` may wait for the first bytes before the response starts: a failure
    before them is then raised instead, and the request may still go to another channel.

    `on_finish(stream)` runs once, when `usage`, `content_chunks` and `status` say what was
    delivered: before the last event (`[DONE]` or the error), so a client that read to the end
    finds itself settled; or at `close()` (the server calls it however the stream ended, the
    client leaving included), which also releases the upstream.
    """

    def __init__(self, response, upstream, wants_usage, timeouts, started, on_finish, error_event):
        self.usage = None
        self.content_chunks = 0
        self.status = 499  # until the stream ends one way or another, the client may leave
        self.failure = None  # the ApiError it failed with part-way
        self._response = response
        self._on_finish = on_finish
        self._error_event = error_event
        self._finished = False
        self._first = None
        self._may_retry = False
        self._events = self._relay(upstream, wants_usage, timeouts, started + timeouts.total)

    def begin(self):
        """Wait for the first bytes for the caller (an event, or a keep-alive). If the upstream
        fails before sending any, its ApiError is raised here and nothing is settled."""
        self._may_retry = True
        try:
            self._first = next(self._events)
        finally:
            self._may_retry = False

    def __iter__(self):
        if self._first is not None:
            yield self._first
        yield from self._events

    def close(self):
        if inspect.getgeneratorstate(self._events) == inspect.GEN_CREATED:
            self._response.close()
        self._events.close()
        self._finish()

    def _finish(self):
        if not self._finished:
            self._finished = True
            self._on_finish(self)

    def _relay(self, upstream, wants_usage, timeouts, deadline):
        events = queue.Queue(maxsize=64)
        stop = threading.Event()
        threading.Thread(target=_read_events, daemon=True, args=(
            self._response, upstream.provider, wants_usage, events, stop)).start()
        try:
            while True:
                batch = _take_ready(events, min(timeouts.keepalive, deadline - time.monotonic()))
                if not batch:
                    if time.monotonic() >= deadline:
                        raise timed_out(upstream.provider.name)
                    yield KEEPALIVE
                    continue
                out, content, done, failure = self._absorb(batch, upstream.provider)
                if done:
                    self.content_chunks += content
                    self.status = 200
                    self._finish()
                    yield out
                    return
                if out:
                    yield out
                    self.content_chunks += content
                if failure:
                    raise failure
        except ApiError as error:
            if self._may_retry:  # nothing has reached the caller yet
                raise
            self.status, self.failure = error.status, error
            self._finish()
            yield self._error_event(error)
        finally:
            stop.set()
            if self.status != 200:
                _abort(self._response)

    def _absorb(self, batch, provider):
        """What a batch of events relays: its bytes, how many carry content, whether the stream is
        done, and the ApiError it failed with."""
        parts, content = [], 0
        for event in batch:
            if event is _END:
                return b"".join(parts), content, False, UpstreamFailure(
                    502, "upstream_error", f"The upstream {provider.name} ended the stream early.",
                    "unreachable", "stream ended early")
            if isinstance(event, ApiError):
                return b"".join(parts), content, False, event
            self.usage = event.usage or self.usage
            if event.raw is not None:
                parts.append(event.raw)
                content += event.content
            if event.done:
                return b"".join(parts), content, True, None
        return b"".join(parts), content, False, None


def error_event(error):
    """OpenAI's way to fail a stream that has started: an event whose data is the error envelope."""
    return data_event(error.body())


def _take_ready(events, timeout):
    """The events ready now, waiting up to `timeout` for the first; [] if none came. Events that
    arrived together leave in one write; none is held back to wait for another."""
    try:
        batch = [events.get(timeout=max(0.0, timeout))]
    except queue.Empty:
        return []
    while len(batch) < 64:
        try:
            batch.append(events.get_nowait())
        except queue.Empty:
            break
    return batch


def _read_events(response, provider, wants_usage, events, stop):
    """In its own thread (a greenlet under gevent), so the relay can send keep-alives meanwhile.
    It alone reads and closes the response: closing a reader mid-read from elsewhere is an error."""
    try:
        for event in provider.events(_chunks(response, provider), wants_usage):
            if not _put(events, event, stop):
                return
        _put(events, _END, stop)
    except ApiError as error:
        _put(events, error, stop)
    finally:
        response.close()


def _abort(response):
    """Shut the upstream socket down, which wakes the reader out of its read with an error."""
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def _put(events, item, stop):
    while not stop.is_set():
        try:
            events.put(item, timeout=0.5)
            return True
        except queue.Full:
            continue
    return False


def _chunks(response, provider):
    """The body's bytes as they arrive (one read each), with transport faults as ApiErrors."""
    try:
        while chunk := response.raw.read1(65536):
            yield chunk
    except (urllib3.exceptions.ReadTimeoutError, TimeoutError):
        raise timed_out(provider.name) from None
    except (urllib3.exceptions.HTTPError, OSError, ValueError, AttributeError):
        # ValueError/AttributeError: urllib3 reading a response that was closed meanwhile.
        raise unreachable(provider.name) from None


def _read_all(response, deadline, limit, provider):
    parts, size = [], 0
    for chunk in _chunks(response, provider):
        parts.append(chunk)
        size += len(chunk)
        if size > limit:
            raise UpstreamFailure(502, "upstream_error", f"The upstream {provider.name}'s answer is "
                                  "too large.", "malformed", "answer too large")
        if time.monotonic() > deadline:
            raise timed_out(provider.name)
    return b"".join(parts)
