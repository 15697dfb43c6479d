"""Cost arithmetic and the reading of untrusted usage (SPEC §3)."""
import pytest

import billing
from billing import Usage
from models import Price

PRICE = Price(input=2_000_000, cached_input=40_000, output=8_000_000, max_output=100)


def test_charge_is_the_ceiling_of_the_exact_sum():
    usage = Usage(prompt=1000, cached=300, completion=1)
    # 700 × 2 + 300 × 0.04 + 1 × 8 = 1420 micro-yuan exactly
    assert billing.charge(PRICE, usage) == 1420
    assert billing.charge(PRICE, Usage(prompt=1, cached=1)) == 1  # 0.04 rounds up, never free


def test_max_cost_covers_prompt_bound_at_the_miss_price_and_max_tokens_at_the_output_price():
    assert billing.max_cost(PRICE, 100, 50) == 100 * 2 + 50 * 8


def test_prompt_bound_adds_an_allowance_per_message():
    assert billing.prompt_token_bound(100, 3) == 100 + 3 * billing.TOKENS_PER_MESSAGE \
        + billing.TOKENS_PER_REQUEST


def test_deepseek_cache_hits_are_read():
    usage = Usage.from_upstream({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 6})
    assert usage == Usage(prompt=10, cached=6, completion=2)


def test_openai_cached_tokens_are_read():
    usage = Usage.from_upstream({"prompt_tokens": 10, "completion_tokens": 2,
                                 "prompt_tokens_details": {"cached_tokens": 3}})
    assert usage == Usage(prompt=10, cached=3, completion=2)


def test_cached_tokens_never_exceed_the_prompt():
    usage = Usage.from_upstream({"prompt_tokens": 10, "completion_tokens": 2, "prompt_cache_hit_tokens": 60})
    assert usage.cached == 10


@pytest.mark.parametrize("usage", [None, "12", [], {}, {"prompt_tokens": 1},
                                   {"prompt_tokens": -1, "completion_tokens": 1},
                                   {"prompt_tokens": 1.5, "completion_tokens": 1},
                                   {"prompt_tokens": True, "completion_tokens": 1},
                                   {"prompt_tokens": 1, "completion_tokens": 10**11}])
def test_usage_that_is_missing_or_not_believable_is_none(usage):
    assert Usage.from_upstream(usage) is None


def test_estimate_counts_a_third_of_the_text_bytes_and_one_token_per_chunk():
    assert billing.estimate_usage(30, 2, 7) == Usage(prompt=10 + 2 * billing.TOKENS_PER_MESSAGE, completion=7)
