"""What a request may cost before it runs, and what it costs after (SPEC §3)."""
import math
from dataclasses import dataclass

# Chat templates add a few tokens per message (role markers, separators) beyond its text.
TOKENS_PER_MESSAGE = 8
TOKENS_PER_REQUEST = 16
# The largest token count an upstream may report for one request; beyond it usage is not believed.
TOKEN_SANITY_LIMIT = 10_000_000


@dataclass(frozen=True)
class Usage:
    prompt: int = 0
    cached: int = 0
    completion: int = 0

    @property
    def total(self):
        return self.prompt + self.completion

    @classmethod
    def from_upstream(cls, usage):
        """Usage from an OpenAI-style `usage` object, or None when it is missing or not believable.

        Cached prompt tokens come as DeepSeek's `prompt_cache_hit_tokens` or OpenAI's
        `prompt_tokens_details.cached_tokens` (also Moonshot's top-level `cached_tokens`).
        """
        if not isinstance(usage, dict):
            return None
        prompt = _count(usage.get("prompt_tokens"))
        completion = _count(usage.get("completion_tokens"))
        if prompt is None or completion is None:
            return None
        details = usage.get("prompt_tokens_details")
        cached = (_count(usage.get("prompt_cache_hit_tokens"))
                  or _count(details.get("cached_tokens") if isinstance(details, dict) else None)
                  or _count(usage.get("cached_tokens")) or 0)
        return cls(prompt=prompt, cached=min(cached, prompt), completion=completion)


def _count(value):
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 0 <= value <= TOKEN_SANITY_LIMIT else None


def prompt_token_bound(body_bytes, message_count):
    """An upper bound of the prompt's tokens: a byte-level tokenizer never makes more tokens than
    the text has UTF-8 bytes, and every prompt token comes from text inside the request body."""
    return body_bytes + TOKENS_PER_MESSAGE * message_count + TOKENS_PER_REQUEST


def max_cost(price, prompt_tokens, max_tokens):
    return math.ceil((prompt_tokens * price.input + max_tokens * price.output) / 1_000_000)


def charge(price, usage):
    miss = usage.prompt - usage.cached
    return math.ceil((miss * price.input + usage.cached * price.cached_input
                      + usage.completion * price.output) / 1_000_000)


def estimate_usage(prompt_text_bytes, message_count, content_chunks):
    """Usage of a stream that ended before the upstream reported it.

    Prompt: a third of the UTF-8 bytes of the messages' text (about one token per CJK character,
    a little above the usual four characters per token of English) plus the per-message allowance.
    Completion: one token per relayed content chunk, which is how OpenAI-style upstreams stream.
    """
    prompt = math.ceil(prompt_text_bytes / 3) + TOKENS_PER_MESSAGE * message_count
    return Usage(prompt=prompt, cached=0, completion=content_chunks)
