"""Every OpenAI-style provider through the gateway, each aimed at the fake upstream process under
its own base path: the answer and the stream as the vendor sends them, the exact charge, what
reached the upstream, and the vendor's own error bodies turned into the documented errors."""
import pytest

from helpers import OPENAI_STYLE, PRICE, UPSTREAM_KEY, expected_cost, sse_data, sse_json
from models import Price
from providers import PROVIDERS, Upstream

# Each vendor's usage for 12 prompt tokens, 4 of them cache hits, and 5 completion tokens.
OPENAI_USAGE = {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
                "prompt_tokens_details": {"cached_tokens": 4}}
USAGE = {
    "deepseek": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17,
                 "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 8},
    "openai": OPENAI_USAGE, "gemini": OPENAI_USAGE, "qwen": OPENAI_USAGE, "zhipu": OPENAI_USAGE,
    "doubao": OPENAI_USAGE,
    "moonshot": {"prompt_tokens": 12, "completion_tokens": 5, "total_tokens": 17, "cached_tokens": 4},
    "siliconflow": {**OPENAI_USAGE, "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 8},
}
# Where each vendor puts a stream's usage (the fake's switches); the default is the last chunk.
STREAM_USAGE = {"openai": {"usage_chunk": True}, "gemini": {"usage_chunk": True},
                "qwen": {"usage_chunk": True}, "doubao": {"usage_chunk": True},
                "moonshot": {"usage_in_choice": True}}
COST = expected_cost(prompt=12, cached=4, completion=5)

# Each vendor's own error bodies: (HTTP status, body).
BAD_REQUEST = {
    "deepseek": (400, {"error": {"message": "Invalid Format: bad field", "type": "invalid_request_error",
                                 "param": None, "code": "invalid_request_error"}}),
    "openai": (400, {"error": {"message": "Invalid Format: bad field", "type": "invalid_request_error",
                               "param": "messages", "code": "invalid_value"}}),
    "gemini": (400, [{"error": {"code": 400, "message": "Invalid Format: bad field",
                                "status": "INVALID_ARGUMENT"}}]),
    "qwen": (400, {"error": {"message": "Invalid Format: bad field", "type": "invalid_request_error",
                             "param": None, "code": "invalid_parameter_error"}, "request_id": "r-1"}),
    "moonshot": (400, {"error": {"message": "Invalid Format: bad field", "type": "invalid_request_error"}}),
    "zhipu": (400, {"error": {"code": "1210", "message": "Invalid Format: bad field"}}),
    "doubao": (400, {"error": {"code": "InvalidParameter", "message": "Invalid Format: bad field",
                               "param": "messages", "type": "BadRequest"}}),
    "siliconflow": (400, {"code": 20015, "message": "Invalid Format: bad field", "data": None}),
}
OUT_OF_BALANCE = {
    "deepseek": (402, {"error": {"message": "Insufficient Balance", "type": "unknown_error", "param": None,
                                 "code": "invalid_request_error"}}),
    "openai": (429, {"error": {"message": "You exceeded your current quota, please check your plan.",
                               "type": "insufficient_quota", "param": None, "code": "insufficient_quota"}}),
    "gemini": (429, [{"error": {"code": 429, "message": "Your prepayment credits are depleted.",
                                "status": "RESOURCE_EXHAUSTED"}}]),
    "qwen": (400, {"error": {"message": "Access denied, please make sure your account is in good standing.",
                             "type": "Arrearage", "param": None, "code": "Arrearage"}, "request_id": "r-2"}),
    "moonshot": (429, {"error": {"message": "Your account is not active, please check your billing",
                                 "type": "exceeded_current_quota_error"}}),
    "zhipu": (429, {"error": {"code": "1113", "message": "余额不足或无可用资源包,请充值。"}}),
    "doubao": (403, {"error": {"code": "AccountOverdueError", "message": "Your account is overdue.",
                               "param": "", "type": "Forbidden"}}),
    "siliconflow": (402, {"code": 30001, "message": "Sorry, your account balance is insufficient",
                          "data": None}),
}
RATE_LIMITED = {
    "deepseek": {"error": {"message": "Rate Limit Reached", "type": "rate_limit_error", "param": None,
                           "code": "rate_limit_error"}},
    "openai": {"error": {"message": "Rate limit reached for requests", "type": "requests", "param": None,
                         "code": "rate_limit_exceeded"}},
    "gemini": [{"error": {"code": 429, "message": "Resource has been exhausted (e.g. check quota).",
                          "status": "RESOURCE_EXHAUSTED"}}],
    "qwen": {"error": {"message": "Requests rate limit exceeded", "type": "Throttling.RateQuota",
                       "param": None, "code": "Throttling.RateQuota"}},
    "moonshot": {"error": {"message": "Your account reached max RPM", "type": "rate_limit_reached_error"}},
    "zhipu": {"error": {"code": "1302", "message": "您当前使用该API的并发数过高，请降低并发"}},
    "doubao": {"error": {"code": "ModelAccountRpmRateLimitExceeded", "message": "RPM exceeded",
                         "param": "", "type": "TooManyRequests"}},
    "siliconflow": {"message": "Request was rejected due to rate limiting. Details: TPM limit reached.",
                    "data": None},
}

vendors = pytest.mark.parametrize("vendor", OPENAI_STYLE)


def model_of(vendor):
    return PROVIDERS[vendor].models[0]


@pytest.fixture(autouse=True)
def priced(app):
    for vendor in OPENAI_STYLE:
        Price.set(vendor, model_of(vendor), **PRICE)


def chat_with(vendor, **fields):
    return {"model": model_of(vendor), "messages": [{"role": "user", "content": "你好"}], **fields}


def post(client, vendor, body, token, **headers):
    response = client.post("/v1/chat/completions", json=body,
                           headers={"X-API-Key": token, "X-AI-Provider": vendor, **headers})
    response.get_data()
    response.close()
    return response


# --- answers and streams ----------------------------------------------------------------------

@vendors
def test_a_whole_answer_comes_back_as_the_vendor_sent_it_and_is_charged_exactly(
        client, bank, upstream, vendor):
    account = bank.account("10")
    fake = {"usage": USAGE[vendor], "keepalives": 2, "reasoning": "先想一想"}
    response = post(client, vendor, chat_with(vendor, fake=fake), bank.key(account))
    assert response.status_code == 200
    answer = response.get_json()
    assert answer["choices"][0]["message"] == {"role": "assistant", "content": "你好，世界！Hello 🌍",
                                               "reasoning_content": "先想一想"}
    assert answer["usage"] == USAGE[vendor]
    assert bank.charges(account) == [-COST]
    [row] = bank.requests(account)
    assert (row.provider, row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (vendor, 12, 4, 5)
    bank.assert_consistent()


@vendors
def test_a_stream_reaches_the_caller_byte_for_byte_and_is_charged_exactly(client, bank, upstream, vendor):
    account = bank.account("10")
    fake = {"usage": USAGE[vendor], "reasoning": "先想", "record": True, **STREAM_USAGE.get(vendor, {})}
    body = chat_with(vendor, stream=True, stream_options={"include_usage": True}, fake=fake)
    response = post(client, vendor, body, bank.key(account))
    assert response.status_code == 200
    [sent] = upstream.stats()["streams"]
    assert response.get_data(as_text=True) == sent
    assert bank.charges(account) == [-COST]
    bank.assert_consistent()


@vendors
def test_reasoning_text_is_relayed_as_the_vendor_sent_it(client, bank, upstream, vendor):
    fake = {"reasoning": "先想一想", "chunks": 2, **STREAM_USAGE.get(vendor, {})}
    body = chat_with(vendor, stream=True, fake=fake)
    chunks = sse_json(post(client, vendor, body, bank.key()).get_data(as_text=True))
    deltas = [chunk["choices"][0]["delta"] for chunk in chunks if chunk["choices"]]
    assert "".join(d.get("reasoning_content", "") for d in deltas) == "先想一想"
    assert "".join(d.get("content") or "" for d in deltas) == "你好"


@pytest.mark.parametrize("vendor", [v for v in OPENAI_STYLE if STREAM_USAGE.get(v, {}).get("usage_chunk")])
def test_a_usage_chunk_the_caller_did_not_ask_for_is_withheld_yet_charged(client, bank, upstream, vendor):
    account = bank.account("10")
    body = chat_with(vendor, stream=True, fake={"usage": USAGE[vendor], **STREAM_USAGE[vendor]})
    text = post(client, vendor, body, bank.key(account)).get_data(as_text=True)
    assert all(chunk["choices"] for chunk in sse_json(text)) and sse_data(text)[-1] == "[DONE]"
    assert upstream.stats()["bodies"][0]["stream_options"] == {"include_usage": True}
    assert bank.charges(account) == [-COST]


# --- what reaches the upstream ----------------------------------------------------------------

@vendors
def test_the_upstream_gets_its_path_the_operators_key_and_the_model_named_by_prefix(
        client, bank, upstream, vendor):
    body = chat_with(vendor, model=f"{vendor}/{model_of(vendor)}", max_tokens=300, seed=7)
    response = client.post("/v1/chat/completions", json=body, headers={"X-API-Key": bank.key()})
    assert response.status_code == 200
    stats = upstream.stats()
    base_path = PROVIDERS[vendor].default_base_url.split("//", 1)[1].split("/", 1)[1].rstrip("/")
    assert stats["paths"] == [f"/{base_path}/chat/completions"]
    assert stats["authorizations"] == [f"Bearer {UPSTREAM_KEY}"]
    [sent] = stats["bodies"]
    assert sent["model"] == model_of(vendor)
    assert sent["messages"] == [{"role": "user", "content": "你好"}] and sent["seed"] == 7
    assert sent[PROVIDERS[vendor].max_tokens_field] == 300


@vendors
def test_the_cap_sent_upstream_is_the_models_max_output_when_the_caller_sent_none(
        client, bank, upstream, vendor):
    post(client, vendor, chat_with(vendor), bank.key())
    [sent] = upstream.stats()["bodies"]
    assert sent[PROVIDERS[vendor].max_tokens_field] == PRICE["max_output"]


# --- the vendor's errors ----------------------------------------------------------------------

def assert_nothing_charged(bank, account):
    assert bank.balance(account) == 10_000_000 and bank.held(account) == 0
    assert [row.state for row in bank.requests(account)] == ["settled"]
    bank.assert_consistent()


@vendors
@pytest.mark.parametrize("stream", [False, True])
def test_a_bad_request_error_keeps_its_status_and_message(client, bank, upstream, vendor, stream):
    account = bank.account("10")
    status, error_body = BAD_REQUEST[vendor]
    fake = {"status": status, "error_body": error_body, "keepalives": 1}
    response = post(client, vendor, chat_with(vendor, stream=stream, fake=fake), bank.key(account))
    assert response.status_code == 400
    error = response.get_json()["error"]
    assert error["message"] == "Invalid Format: bad field"
    assert error["type"] == "invalid_request_error" and isinstance(error["code"], str)
    assert_nothing_charged(bank, account)


@vendors
def test_the_vendors_out_of_balance_answer_is_the_operators_502_not_the_callers(
        client, bank, upstream, vendor):
    account = bank.account("10")
    status, error_body = OUT_OF_BALANCE[vendor]
    response = post(client, vendor, chat_with(vendor, fake={"status": status, "error_body": error_body}),
                    bank.key(account))
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error" and "credentials or funds" in error["message"]
    assert response.headers["x-should-retry"] == "false"
    assert_nothing_charged(bank, account)


@vendors
def test_the_vendors_rate_limit_is_429_with_its_retry_after(client, bank, upstream, vendor):
    account = bank.account("10")
    fake = {"status": 429, "error_body": RATE_LIMITED[vendor], "retry_after": "9"}
    response = post(client, vendor, chat_with(vendor, fake=fake), bank.key(account))
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "upstream_rate_limited"
    assert response.headers["Retry-After"] == "9"
    assert_nothing_charged(bank, account)


@vendors
def test_a_vendor_refusing_the_operators_key_is_502_and_never_shows_it(app, client, bank, upstream, vendor):
    configured = app.config["UPSTREAMS"][vendor]
    app.config["UPSTREAMS"][vendor] = Upstream(configured.provider, configured.base_url, "sk-wrong-operator")
    account = bank.account("10")
    response = post(client, vendor, chat_with(vendor), bank.key(account))
    assert response.status_code == 502 and "sk-wrong" not in response.get_data(as_text=True)
    assert_nothing_charged(bank, account)


@vendors
@pytest.mark.parametrize("status", [500, 503])
def test_a_vendor_failing_is_502(client, bank, upstream, vendor, status):
    account = bank.account("10")
    response = post(client, vendor, chat_with(vendor, fake={"status": status}), bank.key(account))
    assert (response.status_code, response.get_json()["error"]["code"]) == (502, "upstream_error")
    assert_nothing_charged(bank, account)


# --- the models each configured vendor serves -------------------------------------------------

def test_models_lists_the_priced_models_of_every_configured_provider_only(app, client, bank):
    Price.set("qwen", "qwen-flash", **PRICE)
    del app.config["UPSTREAMS"]["zhipu"]
    app.config["UPSTREAMS"]["doubao"] = Upstream(PROVIDERS["doubao"], "http://127.0.0.1:9/api/v3", "")
    listed = client.get("/v1/models", headers={"X-API-Key": bank.key()}).get_json()["data"]
    expected = sorted((vendor, model_of(vendor)) for vendor in OPENAI_STYLE
                      if vendor not in ("zhipu", "doubao")) + [("qwen", "qwen-flash")]
    assert sorted((m["owned_by"], m["id"]) for m in listed) == sorted(expected)


# --- under gunicorn, configured from the environment ------------------------------------------

@vendors
def test_the_openai_sdk_streams_from_each_vendor_configured_by_its_environment(
        server, bank, upstream, vendor):
    from openai import OpenAI
    account = bank.account("10")
    client = OpenAI(base_url=server.url + "/v1", api_key=bank.key(account), max_retries=0)
    stream = client.chat.completions.create(
        model=f"{vendor}/{model_of(vendor)}", messages=[{"role": "user", "content": "你好"}], stream=True,
        extra_body={"fake": {"usage": USAGE[vendor], **STREAM_USAGE.get(vendor, {})}})
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    assert text == "你好，世界！Hello 🌍"
    assert upstream.stats()["authorizations"] == [f"Bearer {UPSTREAM_KEY}"]
    assert bank.charges(account) == [-COST]
    bank.assert_consistent()
