"""What one vendor does its own way, through the gateway against the fake upstream process:
where usage sits, cumulative usage, cache writes, thinking tokens, fixed sampling (docs/providers.md)."""
import pytest

from helpers import PRICE, expected_cost, sse_json
from models import Price

USAGE = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42,
         "prompt_tokens_details": {"cached_tokens": 4}}


@pytest.fixture(autouse=True)
def priced(app):
    for provider, model in (("moonshot", "kimi-k3"), ("moonshot", "moonshot-v1-8k"),
                            ("doubao", "doubao-seed-1-6-251015"), ("openai", "gpt-5.5"),
                            ("gemini", "gemini-3.5-flash")):
        Price.set(provider, model, **PRICE)


def post(client, provider, model, token, buffered=True, **fields):
    response = client.post("/v1/chat/completions", buffered=buffered,
                           json={"model": model, "messages": [{"role": "user", "content": "你好"}], **fields},
                           headers={"X-API-Key": token, "X-AI-Provider": provider})
    if buffered:
        response.get_data()
        response.close()
    return response


# --- Moonshot ---------------------------------------------------------------------------------

def test_moonshot_usage_inside_the_last_choice_is_charged_and_left_where_it_was(client, bank, upstream):
    account = bank.account("10")
    usage = {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42, "cached_tokens": 4}
    response = post(client, "moonshot", "kimi-k3", bank.key(account), stream=True,
                    fake={"usage": usage, "usage_in_choice": True})
    last = sse_json(response.get_data(as_text=True))[-1]
    assert last["choices"][0]["usage"] == usage and "usage" not in last
    assert bank.charges(account) == [-expected_cost(prompt=12, cached=4, completion=30)]
    [row] = bank.requests(account)
    assert (row.cached_tokens, row.usage_estimated) == (4, False)


def test_kimi_models_that_fix_their_sampling_get_no_temperature_others_the_default(client, bank, upstream):
    token = bank.key()
    post(client, "moonshot", "kimi-k3", token)
    post(client, "moonshot", "moonshot-v1-8k", token)
    fixed, legacy = upstream.stats()["bodies"]
    assert "temperature" not in fixed and legacy["temperature"] == 0.7


# --- Doubao -----------------------------------------------------------------------------------

def test_doubao_cumulative_usage_on_every_chunk_is_charged_once_from_the_last(client, bank, upstream):
    account = bank.account("10")
    response = post(client, "doubao", "doubao-seed-1-6-251015", bank.key(account), stream=True,
                    stream_options={"chunk_include_usage": True},
                    fake={"usage": USAGE, "chunks": 6})
    completions = [chunk["usage"]["completion_tokens"] for chunk in sse_json(response.get_data(as_text=True))
                   if chunk.get("usage")]
    assert completions == [5, 10, 15, 20, 25, 30]
    assert bank.charges(account) == [-expected_cost(prompt=12, cached=4, completion=30)]
    bank.assert_consistent()


def test_doubao_stream_left_early_is_charged_from_the_last_cumulative_usage_not_an_estimate(
        client, bank, upstream):
    account = bank.account("10")
    response = post(client, "doubao", "doubao-seed-1-6-251015", bank.key(account), buffered=False,
                    stream=True, stream_options={"chunk_include_usage": True},
                    fake={"usage": {**USAGE, "completion_tokens": 100}, "chunks": 100, "interval": 0.02})
    events = iter(response.response)
    received = [next(events) for _ in range(3)]
    response.close()
    last_seen = [chunk["usage"] for chunk in sse_json(b"".join(received).decode())][-1]
    [row] = bank.requests(account)
    assert (row.status, row.usage_estimated) == (499, False)
    assert 0 < row.completion_tokens < 100 and row.completion_tokens >= last_seen["completion_tokens"]
    assert bank.charges(account) == [-expected_cost(prompt=12, cached=4, completion=row.completion_tokens)]
    bank.assert_consistent()


# --- OpenAI -----------------------------------------------------------------------------------

CACHE_WRITES = {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110,
                "prompt_tokens_details": {"cached_tokens": 30, "cache_write_tokens": 50}}


def test_openai_cache_writes_pay_the_cache_write_price(client, bank, upstream):
    Price.set("openai", "gpt-5.5", **PRICE, cache_write=3_000_000)
    account = bank.account("10")
    post(client, "openai", "gpt-5.5", bank.key(account), fake={"usage": CACHE_WRITES})
    # 20 misses × 2 + 30 hits × 0.5 + 50 writes × 3 + 10 × 8 = 285 micro-yuan
    assert bank.charges(account) == [-285]


def test_openai_cache_writes_pay_the_miss_price_when_the_model_has_no_cache_write_price(
        client, bank, upstream):
    account = bank.account("10")
    post(client, "openai", "gpt-5.5", bank.key(account), fake={"usage": CACHE_WRITES})
    # 20 misses × 2 + 30 hits × 0.5 + 50 writes × 2 + 10 × 8 = 235 micro-yuan
    assert bank.charges(account) == [-235]


def test_openai_reasoning_models_get_max_completion_tokens_and_no_temperature(client, bank, upstream):
    post(client, "openai", "gpt-5.5", bank.key(), max_tokens=50, temperature=0.2)
    [sent] = upstream.stats()["bodies"]
    assert sent["max_completion_tokens"] == 50
    assert "max_tokens" not in sent and "temperature" not in sent


# --- Gemini -----------------------------------------------------------------------------------

def test_gemini_thinking_tokens_counted_only_in_the_total_are_charged_as_output(client, bank, upstream):
    account = bank.account("10")
    usage = {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 75}
    post(client, "gemini", "gemini-3.5-flash", bank.key(account), fake={"usage": usage})
    [row] = bank.requests(account)
    assert row.completion_tokens == 63
    assert bank.charges(account) == [-expected_cost(prompt=12, cached=0, completion=63)]
