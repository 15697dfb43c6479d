"""Any upstream that speaks OpenAI's Chat Completions wire format. A vendor is data: its name,
its default base URL and the models it is known for; the wire handling is shared."""
import json
import re
from dataclasses import dataclass, field

from billing import Usage
from errors import ApiError
from sse import split_events

USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')
DONE = b"[DONE]"


@dataclass(frozen=True)
class StreamEvent:
    raw: bytes | None      # bytes to relay to the client, or None to keep back
    usage: Usage | None = None
    content: bool = False  # carries generated tokens (for estimating an abandoned stream)
    done: bool = False


@dataclass(frozen=True)
class OpenAICompatible:
    name: str
    default_base_url: str
    models: tuple = field(default_factory=tuple)

    @property
    def env_prefix(self):
        return self.name.upper().replace("-", "_")

    def request(self, upstream, body, stream):
        """(url, headers, payload) of the upstream call; usage is always asked for on streams."""
        if stream:
            body = {**body, "stream_options": {**(body.get("stream_options") or {}),
                                               "include_usage": True}}
        headers = {"Authorization": f"Bearer {upstream.api_key}",
                   "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        url = upstream.base_url.rstrip("/") + "/chat/completions"
        return url, headers, json.dumps(body, ensure_ascii=False).encode()

    def completion(self, payload):
        """(body for the client, usage) of a non-streaming answer; the upstream may pad it with
        blank lines while it queues the request."""
        payload = payload.strip()
        try:
            answer = json.loads(payload)
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or "choices" not in answer:
            raise ApiError(502, "upstream_error", f"The upstream {self.name} sent a malformed answer.")
        return payload, Usage.from_upstream(answer.get("usage"))

    def events(self, chunks, wants_usage):
        """StreamEvents from the upstream's SSE bytes. A usage-only chunk that exists only because
        the gateway asked for usage is kept back from a client that did not ask for it."""
        for raw, data in split_events(chunks):
            if data is None:
                yield StreamEvent(raw)
            elif data == DONE:
                yield StreamEvent(raw, done=True)
            elif USAGE_OBJECT.search(data):
                usage_only = NO_CHOICES.search(data) is not None
                yield StreamEvent(raw if wants_usage or not usage_only else None,
                                  usage=_stream_usage(data), content=not usage_only)
            else:
                yield StreamEvent(raw, content=NO_CHOICES.search(data) is None)

    def error(self, status, payload, retry_after=None):
        """The ApiError for an upstream's error answer (SPEC §2)."""
        message, code = _error_fields(payload)
        if status in (401, 402, 403):
            return ApiError(502, "upstream_error",
                            f"The upstream {self.name} refused the gateway's own credentials "
                            f"(HTTP {status}); the operator has been told.",
                            headers={"x-should-retry": "false"})
        if status == 429:
            seconds = retry_after if retry_after and retry_after.isdigit() else "1"
            return ApiError(429, "upstream_rate_limited",
                            f"The upstream {self.name} is rate-limiting the gateway; retry later.",
                            headers={"Retry-After": seconds})
        if 400 <= status < 500:
            return ApiError(status, code or "invalid_request",
                            message or f"The upstream {self.name} rejected the request (HTTP {status}).")
        return ApiError(502, "upstream_error", f"The upstream {self.name} failed (HTTP {status}).")


def _stream_usage(data):
    try:
        chunk = json.loads(data)
    except ValueError:
        return None
    if not isinstance(chunk, dict):
        return None
    usage = chunk.get("usage")
    choices = chunk.get("choices")
    if usage is None and isinstance(choices, list) and choices and isinstance(choices[0], dict):
        usage = choices[0].get("usage")  # Moonshot puts it inside the choice
    return Usage.from_upstream(usage)


def _error_fields(payload):
    try:
        error = json.loads(payload).get("error")
    except (ValueError, AttributeError):
        return None, None
    if not isinstance(error, dict):
        return None, None
    message, code = error.get("message"), error.get("code")
    return (message if isinstance(message, str) and message else None,
            code if isinstance(code, str) and code else None)
