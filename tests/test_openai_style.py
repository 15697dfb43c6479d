"""The OpenAI wire format shared by most vendors, and each vendor's quirks in it: reading untrusted
usage, the body sent upstream, the upstream's error bodies (docs/providers.md)."""
import json

import pytest

from providers import PROVIDERS
from providers.base import Upstream, Usage


def read_usage(provider, usage):
    return PROVIDERS[provider].usage({"usage": usage})


def error_of(provider, status, body):
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return PROVIDERS[provider].error(status, payload, None)


# --- usage ------------------------------------------------------------------------------------

@pytest.mark.parametrize("provider, usage, expected", [
    ("deepseek", {"prompt_cache_hit_tokens": 6, "prompt_cache_miss_tokens": 4}, Usage(10, 6, 2)),
    ("openai", {"prompt_tokens_details": {"cached_tokens": 3}}, Usage(10, 3, 2)),
    ("openai", {"prompt_tokens_details": {"cached_tokens": 3, "cache_write_tokens": 5}},
     Usage(10, 3, 2, cache_write=5)),
    ("qwen", {"prompt_tokens_details": {"cached_tokens": 2, "cache_creation_input_tokens": 7}},
     Usage(10, 2, 2, cache_write=7)),
    ("moonshot", {"cached_tokens": 4}, Usage(10, 4, 2)),
    ("zhipu", {"prompt_tokens_details": {"cached_tokens": 1}}, Usage(10, 1, 2)),
    ("doubao", {"prompt_tokens_details": {"cached_tokens": 8}}, Usage(10, 8, 2)),
    ("siliconflow", {"prompt_cache_hit_tokens": 5}, Usage(10, 5, 2)),
    ("siliconflow", {"prompt_tokens_details": {"cached_tokens": 5}, "prompt_cache_hit_tokens": 5},
     Usage(10, 5, 2)),
    ("gemini", {"prompt_tokens_details": {"cached_tokens": 9}}, Usage(10, 9, 2)),
])
def test_each_vendors_cache_fields_are_read(provider, usage, expected):
    assert read_usage(provider, {"prompt_tokens": 10, "completion_tokens": 2, **usage}) == expected


@pytest.mark.parametrize("provider", ["deepseek", "qwen", "zhipu"])
def test_a_cache_field_of_another_vendor_is_not_read(provider):
    usage = read_usage(provider, {"prompt_tokens": 10, "completion_tokens": 2, "cached_tokens": 9})
    assert usage.cached == 0


def test_cached_tokens_never_exceed_the_prompt_nor_writes_the_rest():
    usage = read_usage("openai", {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {
        "cached_tokens": 60, "cache_write_tokens": 60}})
    assert (usage.cached, usage.cache_write, usage.miss) == (10, 0, 0)
    usage = read_usage("openai", {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {
        "cached_tokens": 4, "cache_write_tokens": 60}})
    assert (usage.cached, usage.cache_write, usage.miss) == (4, 6, 0)


def test_moonshot_usage_inside_the_choice_is_read():
    chunk = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "usage": {
        "prompt_tokens": 39, "completion_tokens": 211, "total_tokens": 250, "cached_tokens": 7}}]}
    assert PROVIDERS["moonshot"].usage(chunk) == Usage(39, 7, 211)


def test_usage_inside_the_choice_is_not_read_for_a_vendor_that_never_puts_it_there():
    chunk = {"choices": [{"usage": {"prompt_tokens": 39, "completion_tokens": 211}}]}
    assert PROVIDERS["openai"].usage(chunk) is None


def test_gemini_thinking_left_out_of_completion_tokens_is_billed_from_the_total():
    usage = read_usage("gemini", {"prompt_tokens": 21, "completion_tokens": 3, "total_tokens": 81})
    assert usage == Usage(21, 0, 60)
    assert read_usage("gemini", {"prompt_tokens": 21, "completion_tokens": 60}) == Usage(21, 0, 60)


@pytest.mark.parametrize("usage", [None, "12", [], {}, {"prompt_tokens": 1},
                                   {"prompt_tokens": -1, "completion_tokens": 1},
                                   {"prompt_tokens": 1.5, "completion_tokens": 1},
                                   {"prompt_tokens": True, "completion_tokens": 1},
                                   {"prompt_tokens": 1, "completion_tokens": 10**11}])
@pytest.mark.parametrize("provider", ["deepseek", "moonshot", "gemini"])
def test_usage_that_is_missing_or_not_believable_is_none(provider, usage):
    assert read_usage(provider, usage) is None


# --- the body sent upstream -------------------------------------------------------------------

def upstream_body(provider, stream=False, **fields):
    upstream = Upstream(PROVIDERS[provider], "http://upstream.test/base/", "sk-operator")
    url, headers, payload = PROVIDERS[provider].request(upstream, {
        "model": "m", "messages": [], "max_tokens": 100, "temperature": 0.7, **fields}, stream)
    assert url == "http://upstream.test/base/chat/completions"
    assert headers["Authorization"] == "Bearer sk-operator"
    return json.loads(payload)


@pytest.mark.parametrize("provider", ["openai", "doubao"])
def test_the_answer_cap_goes_as_max_completion_tokens_where_max_tokens_leaves_reasoning_out(provider):
    sent = upstream_body(provider)
    assert sent["max_completion_tokens"] == 100 and "max_tokens" not in sent


@pytest.mark.parametrize("provider", ["deepseek", "gemini", "qwen", "moonshot", "zhipu", "siliconflow"])
def test_other_vendors_get_max_tokens(provider):
    sent = upstream_body(provider)
    assert sent["max_tokens"] == 100 and "max_completion_tokens" not in sent


@pytest.mark.parametrize("provider, model", [("moonshot", "kimi-k3"), ("moonshot", "kimi-k2.6"),
                                             ("openai", "gpt-5.5"), ("openai", "o3")])
def test_models_that_fix_their_sampling_are_sent_none(provider, model):
    sent = upstream_body(provider, model=model, top_p=0.5, presence_penalty=1, frequency_penalty=1)
    assert not {"temperature", "top_p", "presence_penalty", "frequency_penalty"} & set(sent)


@pytest.mark.parametrize("provider, model", [("moonshot", "moonshot-v1-8k"), ("deepseek", "kimi-k3")])
def test_other_models_keep_their_sampling(provider, model):
    assert upstream_body(provider, model=model, top_p=0.5)["temperature"] == 0.7


def test_a_stream_always_asks_for_usage_keeping_the_callers_stream_options():
    sent = upstream_body("doubao", stream=True, stream_options={"chunk_include_usage": True})
    assert sent["stream_options"] == {"chunk_include_usage": True, "include_usage": True}


# --- the upstream's errors --------------------------------------------------------------------

@pytest.mark.parametrize("provider, status, body, expected", [
    # out of balance, whatever the status: the operator's problem
    ("deepseek", 402, {"error": {"message": "Insufficient Balance", "type": "unknown_error",
                                 "code": "invalid_request_error"}}, (502, "upstream_error")),
    ("openai", 429, {"error": {"message": "You exceeded your current quota", "type": "insufficient_quota",
                               "code": "insufficient_quota"}}, (502, "upstream_error")),
    ("qwen", 400, {"error": {"message": "Access denied, please make sure your account is in good standing.",
                             "type": "Arrearage", "code": "Arrearage"}, "request_id": "b02e"},
     (502, "upstream_error")),
    ("moonshot", 429, {"error": {"message": "Your account is suspended",
                                 "type": "exceeded_current_quota_error"}},
     (502, "upstream_error")),
    ("zhipu", 429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}, (502, "upstream_error")),
    ("doubao", 403, {"error": {"code": "AccountOverdueError", "message": "overdue", "param": "",
                               "type": "Forbidden"}}, (502, "upstream_error")),
    ("siliconflow", 402, {"code": 30001, "message": "Sorry, your account balance is insufficient",
                          "data": None}, (502, "upstream_error")),
    ("gemini", 429, [{"error": {"code": 429, "message": "Your prepayment credits are depleted.",
                                "status": "RESOURCE_EXHAUSTED"}}], (502, "upstream_error")),
    # rate limits
    ("zhipu", 429, {"error": {"code": "1302", "message": "并发数过高"}}, (429, "upstream_rate_limited")),
    ("gemini", 429, [{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                                "status": "RESOURCE_EXHAUSTED"}}], (429, "upstream_rate_limited")),
    ("moonshot", 429, {"error": {"message": "rate limit", "type": "rate_limit_reached_error"}},
     (429, "upstream_rate_limited")),
    # about the caller's request: passed on with the vendor's code
    ("siliconflow", 400, {"code": 20012, "message": "Model does not exist.", "data": None}, (400, "20012")),
    ("gemini", 400, [{"error": {"code": 400, "message": "Bad field", "status": "INVALID_ARGUMENT"}}],
     (400, "INVALID_ARGUMENT")),
    ("gemini", 400, {"error": {"code": 400, "message": "Bad field", "status": "INVALID_ARGUMENT"}},
     (400, "INVALID_ARGUMENT")),
    ("zhipu", 400, {"error": {"code": "1210", "message": "参数有误"}}, (400, "1210")),
    ("moonshot", 400, {"error": {"message": "invalid temperature", "type": "invalid_request_error"}},
     (400, "invalid_request_error")),
    ("doubao", 404, {"error": {"code": "InvalidEndpointOrModel.NotFound", "message": "no such model",
                               "param": "", "type": "NotFound"}}, (404, "InvalidEndpointOrModel.NotFound")),
])
def test_each_vendors_error_body_becomes_the_documented_error(provider, status, body, expected):
    error = error_of(provider, status, body)
    assert (error.status, error.code) == expected
    if expected[0] == 502:
        assert error.headers == {"x-should-retry": "false"}


@pytest.mark.parametrize("provider", ["siliconflow", "gemini", "zhipu"])
def test_a_caller_error_keeps_the_vendors_message(provider):
    body = {"siliconflow": {"code": 20015, "message": "max_tokens too large", "data": None},
            "gemini": [{"error": {"code": 400, "message": "max_tokens too large",
                                  "status": "INVALID_ARGUMENT"}}],
            "zhipu": {"error": {"code": "1214", "message": "max_tokens too large"}}}[provider]
    assert error_of(provider, 400, body).message == "max_tokens too large"


@pytest.mark.parametrize("body", [b"\n\n\n", b"<html>bad gateway</html>", b"[]", b"[1]", b'{"error": 5}',
                                  b'{"code": {}, "message": 7}', b"null"])
@pytest.mark.parametrize("provider", ["deepseek", "gemini", "siliconflow", "zhipu"])
def test_an_error_body_of_no_known_shape_still_gets_a_documented_error(provider, body):
    error = error_of(provider, 400, body)
    assert (error.status, error.code) == (400, "invalid_request")
    assert error.message == f"The upstream {provider} rejected the request (HTTP 400)."


def test_blank_lines_before_an_error_body_are_ignored():
    padded = b'\n\n\n{"code": 20012, "message": "Model does not exist.", "data": null}'
    error = error_of("siliconflow", 400, padded)
    assert (error.code, error.message) == ("20012", "Model does not exist.")
