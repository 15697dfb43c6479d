"""The provider contract: what every upstream module under `providers/` implements.

A provider turns the caller's OpenAI Chat Completions body into its upstream's request, and the
upstream's answer back into OpenAI's shape: a whole answer (`completion`), or a stream of
`StreamEvent`s (`events`). Usage is normalised into `Usage`; errors become `ApiError`s through
`upstream_error`, so every vendor answers the caller alike (docs/providers.md). Optional members
serve the other API surfaces: `embeddings`, `reasoning`, `speaks_messages` (docs/providers.md).
"""
import re
from dataclasses import dataclass, field
from typing import Iterable, Iterator, Protocol

from errors import ApiError

# The largest token count an upstream may report for one request; beyond it usage is not believed.
TOKEN_SANITY_LIMIT = 10_000_000


@dataclass(frozen=True)
class Usage:
    """A request's tokens, normalised: `prompt` is every input token, of which `cached` were cache
    reads and `cache_write` cache writes; the rest of the prompt is a cache miss."""
    prompt: int = 0
    cached: int = 0
    completion: int = 0
    cache_write: int = 0

    @property
    def total(self):
        return self.prompt + self.completion

    @property
    def miss(self):
        return max(0, self.prompt - self.cached - self.cache_write)


def token_count(value):
    """An upstream's token count if it is believable, else None (usage is untrusted input)."""
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= TOKEN_SANITY_LIMIT else None


@dataclass(frozen=True)
class StreamEvent:
    """One upstream event, ready to relay.

    `raw` is what the client receives (None: keep it back). `usage` is the request's usage as known
    after this event: a later event's usage replaces an earlier one, so a provider whose upstream
    reports usage in pieces (Anthropic) combines them itself. `content` marks generated tokens (the
    estimate of an abandoned stream counts them); `done` marks the last event of a complete answer.
    """
    raw: bytes | None
    usage: Usage | None = None
    content: bool = False
    done: bool = False


@dataclass(frozen=True)
class Upstream:
    """One channel: where and as whom the gateway calls a provider. Vendor modules read
    `provider`, `base_url` and `api_key`; the rest is how the gateway chooses among a provider's
    channels (docs/channels.md): `models` it serves (empty: every priced model of its provider),
    `model_map` from the caller's model name to the upstream's, and `failures` in a row when the
    channel was read."""
    provider: "Provider"
    base_url: str
    api_key: str
    name: str = ""
    priority: int = 0
    weight: int = 1
    models: tuple = ()
    model_map: dict = field(default_factory=dict)
    state: str = "enabled"
    failures: int = 0


class Provider(Protocol):
    name: str              # the X-AI-Provider value, and NAME in NAME_API_KEY / NAME_BASE_URL
    default_base_url: str  # in the sense of the vendor's own SDK
    models: tuple          # the models it is known for, to infer the provider from a model name

    @property
    def env_prefix(self) -> str:
        """The NAME of its environment variables."""

    def request(self, upstream: Upstream, body: dict, stream: bool) -> tuple[str, dict, bytes]:
        """(url, headers, payload) of the upstream call for an OpenAI Chat Completions `body`."""

    def completion(self, payload: bytes) -> tuple[bytes, Usage | None]:
        """(OpenAI `chat.completion` bytes for the caller, usage) from a whole 2xx answer; an
        ApiError (502) when the answer is malformed."""

    def events(self, chunks: Iterable[bytes], wants_usage: bool) -> Iterator[StreamEvent]:
        """OpenAI chunk events from the upstream's stream bytes, as they arrive. The usage-only
        chunk is relayed only when `wants_usage`; the last event is `data: [DONE]` with `done`."""

    def error(self, status: int, payload: bytes, retry_after: str | None) -> ApiError:
        """The caller's ApiError for an upstream error answer, through `upstream_error`."""


class UpstreamFailure(ApiError):
    """A failure of the channel, not of the caller's request: the request may go to another
    channel, and the channel's health counts it (docs/channels.md). `kind` names it in a word
    (unreachable, timeout, rate_limited, server_error, malformed, refused); `detail` says what the
    upstream answered, without its message (which may quote credentials). A `refused` failure —
    the upstream turned down the operator's key or funds — disables the channel at once."""

    def __init__(self, status, code, message, kind, detail, headers=None):
        super().__init__(status, code, message, headers=headers)
        self.kind, self.detail = kind, detail

    @property
    def disables(self):
        return self.kind == "refused"


SHORT_CODE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def upstream_error(provider, status, message=None, code=None, retry_after=None, out_of_balance=False):
    """How an upstream's error answer reaches the caller (docs/providers.md): the gateway's own
    credentials or funds (401/402/403, or a vendor's out-of-balance signal) are the operator's
    problem, a 502; a 429 is passed on with its Retry-After; any other 4xx is about the caller's
    request and passed on; the rest is a 502. All but the caller's 4xx are UpstreamFailures."""
    detail = f"HTTP {status}" + (f" {code}" if code and SHORT_CODE.match(code) else "")
    if status in (401, 402, 403) or out_of_balance:
        return UpstreamFailure(502, "upstream_error",
                               f"The upstream {provider} refused the gateway's own credentials or "
                               f"funds (HTTP {status}); the operator has been told.", "refused", detail,
                               headers={"x-should-retry": "false"})
    if status == 429:
        seconds = retry_after if retry_after and retry_after.isdigit() else "1"
        return UpstreamFailure(429, "upstream_rate_limited",
                               f"The upstream {provider} is rate-limiting the gateway; retry later.",
                               "rate_limited", detail, headers={"Retry-After": seconds})
    if 400 <= status < 500:
        return ApiError(status, code or "invalid_request",
                        message or f"The upstream {provider} rejected the request (HTTP {status}).")
    return UpstreamFailure(502, "upstream_error", f"The upstream {provider} failed (HTTP {status}).",
                           "server_error", detail)


def malformed(provider):
    return UpstreamFailure(502, "upstream_error", f"The upstream {provider} sent a malformed answer.",
                           "malformed", "malformed answer")


def unreachable(provider):
    return UpstreamFailure(502, "upstream_error",
                           f"The upstream {provider} could not be reached or broke the connection.",
                           "unreachable", "connection failed")


def timed_out(provider):
    return UpstreamFailure(504, "upstream_timeout", f"The upstream {provider} did not answer in time.",
                           "timeout", "timed out")
