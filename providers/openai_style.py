"""Any upstream that speaks OpenAI's Chat Completions wire format. A vendor is data (its name,
default base URL and models); the wire handling is shared and relays the upstream's bytes as
they came, parsing JSON only where usage has to be read."""
import json
import re
from dataclasses import dataclass, field

from providers.base import StreamEvent, Usage, malformed, token_count, upstream_error
from providers.sse import split_events

USAGE_OBJECT = re.compile(rb'"usage"\s*:\s*\{')
NO_CHOICES = re.compile(rb'"choices"\s*:\s*\[\s*\]')
DONE = b"[DONE]"


@dataclass(frozen=True)
class OpenAIStyle:
    name: str
    default_base_url: str
    models: tuple = field(default_factory=tuple)
    embeddings: bool = False      # it sells embeddings, at OpenAI's /embeddings
    thinking: str | None = None   # how its reasoning is switched: a key of REASONING_SWITCHES

    @property
    def env_prefix(self):
        return self.name.upper().replace("-", "_")

    def request(self, upstream, body, stream):
        """(url, headers, payload) of the upstream call; usage is always asked for on streams."""
        if stream:
            body = {**body, "stream_options": {**(body.get("stream_options") or {}),
                                               "include_usage": True}}
        return self._call(upstream, "/chat/completions", body, stream)

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
        answer = _json_object(payload)
        if answer is None or "choices" not in answer:
            raise malformed(self.name)
        return payload, self.usage(answer)

    def embeddings_answer(self, payload):
        """The embeddings as they came (base64 ones untouched), and their usage: every token is
        input."""
        payload = payload.strip()
        answer = _json_object(payload)
        if answer is None or not isinstance(answer.get("data"), list):
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
                                  usage=self.usage(_json_object(data)), content=not usage_only)
            else:
                yield StreamEvent(raw, content=NO_CHOICES.search(data) is None)

    def usage(self, answer):
        """Usage from an answer or chunk: OpenAI's `usage`, with cache reads as DeepSeek's
        `prompt_cache_hit_tokens` or OpenAI's `prompt_tokens_details.cached_tokens`. None when
        it is missing or not believable."""
        usage = answer.get("usage") if answer else None
        if not isinstance(usage, dict):
            return None
        prompt = token_count(usage.get("prompt_tokens"))
        completion = token_count(usage.get("completion_tokens"))
        if prompt is None or completion is None:
            return None
        details = usage.get("prompt_tokens_details")
        cached = (token_count(usage.get("prompt_cache_hit_tokens"))
                  or token_count(details.get("cached_tokens") if isinstance(details, dict) else None)
                  or 0)
        return Usage(prompt=prompt, cached=min(cached, prompt), completion=completion)

    def error(self, status, payload, retry_after=None):
        error = (_json_object(payload.strip()) or {}).get("error")
        error = error if isinstance(error, dict) else {}
        return upstream_error(self.name, status, _text(error.get("message")), _text(error.get("code")),
                              retry_after)


REASONING_SWITCHES = {
    # {"thinking": {"type": "enabled"}} (DeepSeek, Zhipu, Doubao, Moonshot)
    "thinking": lambda enabled, budget: {"thinking": {"type": "enabled" if enabled else "disabled"}},
    # {"enable_thinking": true, "thinking_budget": N} (Qwen, SiliconFlow)
    "enable_thinking": lambda enabled, budget: {
        "enable_thinking": enabled, **({"thinking_budget": budget} if enabled and budget else {})},
    # {"reasoning_effort": "medium"} (OpenAI, Gemini)
    "reasoning_effort": lambda enabled, budget: {"reasoning_effort": "medium" if enabled else "none"},
}


def _json_object(data):
    try:
        value = json.loads(data)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _text(value):
    return value if isinstance(value, str) and value else None
