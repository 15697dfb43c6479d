"""Anthropic's Messages API on the wire: its usage, its stream's events, its errors.

`NativeMessages` is an upstream that speaks Messages itself, as POST /v1/messages calls it: the
caller's body goes upstream as sent (model and max_tokens aimed), and the answer and every event
come back byte for byte; only usage is read (docs/surfaces.md).
"""
import json
import re
from dataclasses import dataclass

from providers.base import StreamEvent, Usage, UpstreamFailure, malformed, token_count, upstream_error
from providers.sse import split_events

EVENT_NAME = re.compile(rb"^event:[ \t]*([A-Za-z_]+)", re.MULTILINE)
USAGE_EVENTS = (b"message_start", b"message_delta")


@dataclass(frozen=True)
class NativeMessages:
    """What /v1/messages calls for a provider that speaks Messages: the provider's `name`, and
    the caller's `anthropic-version` and `anthropic-beta` headers, forwarded as they came."""
    name: str
    version: str
    beta: str | None = None

    def request(self, upstream, body, stream):
        headers = {"x-api-key": upstream.api_key, "anthropic-version": self.version,
                   "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        if self.beta:
            headers["anthropic-beta"] = self.beta
        url = upstream.base_url.rstrip("/") + "/v1/messages"
        return url, headers, json.dumps(body, ensure_ascii=False).encode()

    def completion(self, payload):
        message = _json_object(payload.strip())
        if message is None or message.get("type") != "message":
            raise malformed(self.name)
        return payload, usage(message.get("usage"))

    def events(self, chunks, wants_usage):
        """The upstream's events as they came. Usage is reported in pieces (input on
        `message_start`, cumulative counts on `message_delta`): each event carries the sum so far."""
        reported = {}
        for raw, data in split_events(chunks):
            name = _event_name(raw, data)
            if name in USAGE_EVENTS:
                event = _json_object(data) or {}
                pieces = (event.get("message") or {}) if name == b"message_start" else event
                if isinstance(pieces, dict) and isinstance(pieces.get("usage"), dict):
                    reported.update({k: v for k, v in pieces["usage"].items() if v is not None})
            elif name == b"error":
                raise UpstreamFailure(502, "upstream_error", f"The upstream {self.name} failed "
                                      "part-way through its answer.", "server_error", "error event")
            yield StreamEvent(raw, usage=usage(reported), content=name == b"content_block_delta",
                              done=name == b"message_stop")

    def error(self, status, payload, retry_after=None):
        error = (_json_object(payload.strip()) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        kind = _text(error.get("type"))
        return upstream_error(self.name, status, _text(error.get("message")), kind, retry_after,
                              out_of_balance=kind == "billing_error")


def usage(reported):
    """Anthropic's usage, normalised: its `input_tokens` leave out cache reads and writes."""
    if not isinstance(reported, dict):
        return None
    fresh, output = token_count(reported.get("input_tokens")), token_count(reported.get("output_tokens"))
    if fresh is None or output is None:
        return None
    read = token_count(reported.get("cache_read_input_tokens")) or 0
    write = token_count(reported.get("cache_creation_input_tokens")) or 0
    return Usage(prompt=fresh + read + write, cached=read, cache_write=write, completion=output)


def usage_shape(usage):
    """A normalised `Usage` as Anthropic reports it (zeros when there is none)."""
    usage = usage or Usage()
    return {"input_tokens": usage.miss, "cache_creation_input_tokens": usage.cache_write,
            "cache_read_input_tokens": usage.cached, "output_tokens": usage.completion}


def _event_name(raw, data):
    """The event's name from its `event:` line, else from its data's `type`."""
    named = EVENT_NAME.search(raw)
    if named:
        return named.group(1)
    kind = (_json_object(data) or {}).get("type") if data else None
    return kind.encode() if isinstance(kind, str) else None


def _json_object(data):
    try:
        value = json.loads(data)
    except (TypeError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _text(value):
    return value if isinstance(value, str) and value else None
