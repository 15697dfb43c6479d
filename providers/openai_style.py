"""Any upstream that speaks OpenAI's Chat Completions wire format. A vendor is data: its name,
default base URL and models, and where its quirks differ from OpenAI's (the fields below, each
with OpenAI's behaviour as default). The wire handling is shared and relays the upstream's bytes
as they came, parsing JSON only where usage has to be read (docs/providers.md)."""
import json
import re
from dataclasses import dataclass
from typing import Callable, NamedTuple

from providers.base import StreamEvent, Usage, malformed, token_count, upstream_error
from providers.sse import split_events

USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')
DONE = b"[DONE]"
# What a model that fixes its own sampling refuses to be sent, the gateway's defaults included.
SAMPLING = ("temperature", "top_p", "presence_penalty", "frequency_penalty")


class ErrorFields(NamedTuple):
    """What an upstream's error body says, whatever its shape."""
    message: str | None = None
    code: str | None = None
    type: str | None = None


def openai_error_fields(body):
    """OpenAI's `{"error": {"message", "type", "param", "code"}}`; any other body says nothing."""
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ErrorFields()
    return ErrorFields(text(error.get("message")), code_text(error.get("code")),
                       text(error.get("type")))


def codes(*signals):
    """An `out_of_balance` test: the error's code or type is one of `signals`."""
    return lambda error: error.code in signals or error.type in signals


def never(error):
    return False


@dataclass(frozen=True)
class OpenAIStyle:
    name: str
    default_base_url: str
    models: tuple = ()
    embeddings: bool = False      # it sells embeddings, at OpenAI's /embeddings
    thinking: str | None = None   # how its reasoning is switched: a key of REASONING_SWITCHES
    # Where cache reads and cache writes are counted in `usage` (dotted paths, first found wins).
    cached_fields: tuple = ("prompt_tokens_details.cached_tokens",)
    cache_write_fields: tuple = ()
    # The usage of a stream chunk may sit inside its first choice instead of at the top.
    usage_in_choice: bool = False
    # Output tokens the upstream leaves out of `completion_tokens` but counts in `total_tokens`.
    output_from_total: bool = False
    # The name of the field that caps an answer's tokens, reasoning included.
    max_tokens_field: str = "max_tokens"
    # Model-name prefixes whose sampling the vendor fixes: SAMPLING is left out for them.
    fixed_sampling: tuple = ()
    # The error body's shape, and which errors say the operator's account is out of money.
    error_fields: Callable[[object], ErrorFields] = openai_error_fields
    out_of_balance: Callable[[ErrorFields], bool] = never

    @property
    def env_prefix(self):
        return self.name.upper().replace("-", "_")

    def request(self, upstream, body, stream):
        """(url, headers, payload) of the upstream call; usage is always asked for on streams."""
        return self._call(upstream, "/chat/completions", self.upstream_body(body, stream), stream)

    def upstream_body(self, body, stream):
        body = dict(body)
        if stream:
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        if self.max_tokens_field != "max_tokens" and "max_tokens" in body:
            body[self.max_tokens_field] = body.pop("max_tokens")
        if self.fixed_sampling and str(body.get("model", "")).startswith(self.fixed_sampling):
            for name in SAMPLING:
                body.pop(name, None)
        return body

    def embeddings_request(self, upstream, body):
        """(url, headers, payload) of an embeddings call, the body as the caller sent it."""
        return self._call(upstream, "/embeddings", body, stream=False)

    def _call(self, upstream, path, body, stream):
        headers = {"Authorization": f"Bearer {upstream.api_key}",
                   "Content-Type": "application/json",
                   "Accept": "text/event-stream" if stream else "application/json"}
        url = upstream.base_url.rstrip("/") + path
        return url, headers, json.dumps(body, ensure_ascii=False).encode()

    def completion(self, payload):
        """The answer as it came (less the blank lines an upstream may pad it with while it
        queues the request), and its usage."""
        payload = payload.strip()
        answer = _json(payload)
        if not isinstance(answer, dict) or "choices" not in answer:
            raise malformed(self.name)
        return payload, self.usage(answer)

    def embeddings_answer(self, payload):
        """The embeddings as they came (base64 ones untouched), and their usage: every token is
        input."""
        payload = payload.strip()
        answer = _json(payload)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise malformed(self.name)
        usage = answer.get("usage")
        prompt = token_count(usage.get("prompt_tokens")) if isinstance(usage, dict) else None
        return payload, None if prompt is None else Usage(prompt=prompt)

    def reasoning(self, enabled, budget=None):
        """The body fields that turn the vendor's reasoning on or off, with a token budget where
        it takes one; none when it has no switch."""
        switch = REASONING_SWITCHES.get(self.thinking)
        return switch(enabled, budget) if switch else {}

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
                                  usage=self.usage(_json(data)), content=not usage_only)
            else:
                yield StreamEvent(raw, content=NO_CHOICES.search(data) is None)

    def usage(self, answer):
        """Usage from an answer or chunk, None when it is missing or not believable."""
        usage = self._usage_object(answer)
        if usage is None:
            return None
        prompt = token_count(usage.get("prompt_tokens"))
        completion = token_count(usage.get("completion_tokens"))
        if prompt is None or completion is None:
            return None
        if self.output_from_total:
            completion = max(completion, (token_count(usage.get("total_tokens")) or 0) - prompt)
        cached = min(_first_count(usage, self.cached_fields), prompt)
        written = min(_first_count(usage, self.cache_write_fields), prompt - cached)
        return Usage(prompt=prompt, cached=cached, completion=completion, cache_write=written)

    def _usage_object(self, answer):
        if not isinstance(answer, dict):
            return None
        usage = answer.get("usage")
        if usage is None and self.usage_in_choice:
            choices = answer.get("choices")
            first = choices[0] if isinstance(choices, list) and choices else None
            usage = first.get("usage") if isinstance(first, dict) else None
        return usage if isinstance(usage, dict) else None

    def error(self, status, payload, retry_after=None):
        error = self.error_fields(_json(payload.strip()))
        return upstream_error(self.name, status, error.message, error.code or error.type,
                              retry_after, out_of_balance=self.out_of_balance(error))


REASONING_SWITCHES = {
    # {"thinking": {"type": "enabled"}} (DeepSeek, Zhipu, Doubao, Moonshot)
    "thinking": lambda enabled, budget: {"thinking": {"type": "enabled" if enabled else "disabled"}},
    # {"enable_thinking": true, "thinking_budget": N} (Qwen, SiliconFlow)
    "enable_thinking": lambda enabled, budget: {
        "enable_thinking": enabled, **({"thinking_budget": budget} if enabled and budget else {})},
    # {"reasoning_effort": "medium"} (OpenAI, Gemini)
    "reasoning_effort": lambda enabled, budget: {"reasoning_effort": "medium" if enabled else "none"},
}


def _first_count(usage, paths):
    """The first believable count at one of the dotted `paths` of `usage`, else 0."""
    for path in paths:
        value = usage
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
        if token_count(value) is not None:
            return value
    return 0


def _json(data):
    try:
        return json.loads(data)
    except ValueError:
        return None


def text(value):
    return value if isinstance(value, str) and value else None


def code_text(value):
    """An error code as text: vendors send strings, and some integers."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return text(value)
