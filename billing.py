"""What a request may cost before it runs, and what it costs after (docs/money.md)."""
import json
import math

from providers.base import Usage

# Chat templates add a few tokens per message (role markers, separators) beyond its text.
TOKENS_PER_MESSAGE = 8
TOKENS_PER_REQUEST = 16
BYTES_PER_ESTIMATED_TOKEN = 3


def prompt_token_bound(body_bytes, message_count):
    """An upper bound of the prompt's tokens: a byte-level tokenizer never makes more tokens than
    the text has UTF-8 bytes, and every prompt token comes from text inside the request body."""
    return body_bytes + TOKENS_PER_MESSAGE * message_count + TOKENS_PER_REQUEST


def max_cost(price, prompt_tokens, max_tokens):
    """Every prompt token at the dearer of the miss and cache-write prices, and `max_tokens`
    at the output price."""
    dearest_input = max(price.input, price.write_price)
    return math.ceil((prompt_tokens * dearest_input + max_tokens * price.output) / 1_000_000)


def charge(price, usage):
    return math.ceil((usage.miss * price.input + usage.cached * price.cached_input
                      + usage.cache_write * price.write_price + usage.completion * price.output)
                     / 1_000_000)


def estimate_usage(prompt_text_bytes, message_count, completion_tokens):
    """Usage of an answer whose upstream reported none: the prompt is a third of the UTF-8 bytes
    of the messages' text (about one token per CJK character, a little above the usual four
    characters per token of English) plus the per-message allowance; `completion_tokens` is
    counted by whoever relayed the answer (`text_tokens`, or one per streamed content chunk)."""
    return Usage(prompt=text_tokens(prompt_text_bytes) + TOKENS_PER_MESSAGE * message_count,
                 completion=completion_tokens)


def text_tokens(utf8_bytes):
    return math.ceil(utf8_bytes / BYTES_PER_ESTIMATED_TOKEN)


def answer_text_bytes(answer):
    """UTF-8 bytes of the generated text of an OpenAI `chat.completion`; 0 if there is none."""
    try:
        choices = json.loads(answer).get("choices") or []
        return sum(len(((choice.get("message") or {}).get("content") or "").encode())
                   for choice in choices)
    except (ValueError, AttributeError, TypeError):
        return 0
