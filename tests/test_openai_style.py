"""The OpenAI wire format shared by most vendors: reading untrusted usage."""
import pytest

from providers import deepseek
from providers.base import Usage


def read_usage(usage):
    return deepseek.provider.usage({"usage": usage})


def test_deepseek_cache_hits_are_read():
    usage = read_usage({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 6})
    assert usage == Usage(prompt=10, cached=6, completion=2)


def test_openai_cached_tokens_are_read():
    usage = read_usage({"prompt_tokens": 10, "completion_tokens": 2,
                                 "prompt_tokens_details": {"cached_tokens": 3}})
    assert usage == Usage(prompt=10, cached=3, completion=2)


def test_cached_tokens_never_exceed_the_prompt():
    usage = read_usage({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 60})
    assert usage.cached == 10


@pytest.mark.parametrize("usage", [None, "12", [], {}, {"prompt_tokens": 1},
                                   {"prompt_tokens": -1, "completion_tokens": 1},
                                   {"prompt_tokens": 1.5, "completion_tokens": 1},
                                   {"prompt_tokens": True, "completion_tokens": 1},
                                   {"prompt_tokens": 1, "completion_tokens": 10**11}])
def test_usage_that_is_missing_or_not_believable_is_none(usage):
    assert read_usage(usage) is None
