"""Anthropic's Messages API on the wire, for both ways the gateway serves it (docs/providers.md,
"Anthropic"; docs/surfaces.md): the call, usage, error bodies and error types.

`NativeMessages` is the `anthropic` provider as POST /v1/messages calls it: the caller's body goes
upstream as sent (model and max_tokens aimed), and the answer and every event come back byte for
byte; only usage is read. The translation to and from Chat Completions is in `anthropic` and
`anthropic_answer`.
"""
import json
import re
from dataclasses import dataclass

from providers.base import StreamEvent, Usage, malformed, token_count, upstream_error
from providers.sse import split_events

# The version the gateway speaks, and what a caller of /v1/messages that names none gets.
API_VERSION = "2023-06-01"
# The HTTP status of each error type, for an error that arrives inside a stream (after a 200).
ERROR_STATUS = {"invalid_request_error": 400, "authentication_error": 401, "billing_error": 402,
                "permission_error": 403, "not_found_error": 404, "request_too_large": 413,
                "rate_limit_error": 429, "api_error": 500, "timeout_error": 504,
                "overloaded_error": 529}
ERROR_TYPES = {status: kind for kind, status in ERROR_STATUS.items()}
ERROR_CODES = {"not_found_error": "not_found", "request_too_large": "request_too_large"}
# Anthropic answers 400 invalid_request_error when the operator's prepaid credit runs out.
OUT_OF_CREDIT = "credit balance is too low"
EVENT_NAME = re.compile(rb"^event:[ \t]*([A-Za-z_]+)", re.MULTILINE)
USAGE_EVENTS = (b"message_start", b"message_delta")


def call(upstream, body, stream, version=API_VERSION, beta=None):
    """(url, headers, payload) of a POST /v1/messages with `body` (a dict) as the operator."""
    headers = {"x-api-key": upstream.api_key, "anthropic-version": version,
               "Content-Type": "application/json",
               "Accept": "text/event-stream" if stream else "application/json"}
    if beta:
        headers["anthropic-beta"] = beta
    return (upstream.base_url.rstrip("/") + "/v1/messages", headers,
            json.dumps(body, ensure_ascii=False).encode())


@dataclass(frozen=True)
class NativeMessages:
    """What /v1/messages calls for a provider that speaks Messages: the provider's `name`, and
    the caller's `anthropic-version` and `anthropic-beta` headers, forwarded as they came."""
    name: str
    version: str = API_VERSION
    beta: str | None = None

    def request(self, upstream, body, stream):
        return call(upstream, body, stream, self.version, self.beta)

    def completion(self, payload):
        message = json_object(payload.strip())
        if message is None or message.get("type") != "message":
            raise malformed(self.name)
        return payload, read_usage(message.get("usage"))

    def events(self, chunks, wants_usage):
        """The upstream's events as they came; only the usage events are parsed."""
        counts = UsageCounts()
        for raw, data in split_events(chunks):
            name = _event_name(raw, data)
            if name in USAGE_EVENTS:
                counts.add(_event_usage(json_object(data) or {}))
            elif name == b"error":
                raise stream_error(self.name, json_object(data) or {})
            yield StreamEvent(raw, usage=counts.usage, content=name == b"content_block_delta",
                              done=name == b"message_stop")

    def error(self, status, payload, retry_after=None):
        return error(self.name, status, payload, retry_after)


# --- usage ---------------------------------------------------------------------------------------

def read_usage(counts):
    """Usage from Anthropic's counts, whose `input_tokens` leave out cache reads and writes; None
    when missing or not believable."""
    if not isinstance(counts, dict):
        return None
    fresh, output = token_count(counts.get("input_tokens")), token_count(counts.get("output_tokens"))
    read = token_count(counts.get("cache_read_input_tokens") or 0)
    write = token_count(counts.get("cache_creation_input_tokens") or 0)
    if None in (fresh, output, read, write):
        return None
    return Usage(prompt=fresh + read + write, cached=read, cache_write=write, completion=output)


class UsageCounts:
    """A stream's usage, reported in pieces: `message_start` brings the input, each
    `message_delta` cumulative counts, which replace the earlier ones."""

    def __init__(self):
        self.counts = {}
        self.usage = None

    def add(self, counts):
        if isinstance(counts, dict):
            self.counts.update((name, value) for name, value in counts.items() if value is not None)
            self.usage = read_usage(self.counts)
        return self.usage


def _event_usage(event):
    """The usage counts of a `message_start` (inside its message) or `message_delta` event."""
    message = event.get("message") if event.get("type") == "message_start" else event
    return message.get("usage") if isinstance(message, dict) else None


def usage_shape(usage):
    """A normalised `Usage` as Anthropic reports it (zeros when there is none)."""
    usage = usage or Usage()
    return {"input_tokens": usage.miss, "cache_creation_input_tokens": usage.cache_write,
            "cache_read_input_tokens": usage.cached, "output_tokens": usage.completion}


# --- errors --------------------------------------------------------------------------------------

def error(provider, status, payload, retry_after=None):
    """The caller's ApiError for an error answer `{"type": "error", "error": {type, message}}`."""
    return error_of(provider, status, json_object(payload.strip()) or {}, retry_after)


def stream_error(provider, event):
    """The ApiError for an `error` event inside a stream (after a 200): the status of its type."""
    return error_of(provider, ERROR_STATUS.get(error_type(event), 500), event)


def error_of(provider, status, body, retry_after=None):
    kind = error_type(body)
    message = body["error"].get("message") if kind else None
    message = message if isinstance(message, str) and message else None
    out_of_credit = kind == "billing_error" or (
        status == 400 and OUT_OF_CREDIT in (message or "").lower())
    return upstream_error(provider, status, message, ERROR_CODES.get(kind), retry_after,
                          out_of_balance=out_of_credit)


def error_type(body):
    error = body.get("error")
    return error.get("type") if isinstance(error, dict) and isinstance(error.get("type"), str) else None


def error_body(status, message):
    """Anthropic's error envelope for an answer with `status`."""
    kind = ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


# --- JSON ----------------------------------------------------------------------------------------

def json_object(data):
    try:
        value = json.loads(data)
    except (TypeError, ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _event_name(raw, data):
    """The event's name from its `event:` line, else from its data's `type`."""
    named = EVENT_NAME.search(raw)
    if named:
        return named.group(1)
    kind = (json_object(data) or {}).get("type") if data else None
    return kind.encode() if isinstance(kind, str) else None
