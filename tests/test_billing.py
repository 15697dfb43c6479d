"""Cost arithmetic (docs/money.md)."""
import billing
from providers.base import Usage
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


def test_estimate_counts_a_third_of_the_prompt_text_bytes_and_takes_the_completion_counted():
    assert billing.estimate_usage(30, 2, 7) == Usage(prompt=10 + 2 * billing.TOKENS_PER_MESSAGE, completion=7)


def test_cache_writes_are_charged_at_the_miss_price_when_the_model_has_no_cache_write_price():
    usage = Usage(prompt=1000, cached=300, cache_write=200, completion=0)
    # 500 misses × 2 + 300 hits × 0.04 + 200 writes at the miss price × 2 = 1412
    assert billing.charge(PRICE, usage) == 1412


def test_cache_writes_are_charged_at_the_cache_write_price():
    price = Price(input=2_000_000, cached_input=40_000, cache_write=2_500_000, output=8_000_000)
    usage = Usage(prompt=1000, cached=300, cache_write=200, completion=0)
    # 500 misses × 2 + 300 hits × 0.04 + 200 writes × 2.5 = 1512
    assert billing.charge(price, usage) == 1512


def test_max_cost_holds_every_prompt_token_at_the_dearer_of_the_miss_and_write_prices():
    dear_writes = Price(input=2_000_000, cached_input=40_000, cache_write=2_500_000, output=8_000_000)
    assert billing.max_cost(dear_writes, 100, 50) == 100 * 2.5 + 50 * 8
    cheap_writes = Price(input=2_000_000, cached_input=40_000, cache_write=1_000_000, output=8_000_000)
    assert billing.max_cost(cheap_writes, 100, 50) == 100 * 2 + 50 * 8


def test_the_text_of_an_answer_is_measured_for_an_estimate():
    answer = rb'{"choices": [{"message": {"content": "\u4f60\u597d"}}, {"message": {"content": null}}]}'
    assert billing.answer_text_bytes(answer) == 6
    assert billing.answer_text_bytes(b"not json") == 0
