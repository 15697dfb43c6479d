"""POST /v1/chat/completions through Flask's test client, against the fake DeepSeek process."""
import json

import pytest

from helpers import MODEL, PRICE, chat, expected_cost, headers, post, sse_data, sse_json
from models import ApiKey, RequestLog


# --- the answer -------------------------------------------------------------------------------

def test_non_streaming_answer_is_the_upstreams_completion(client, bank, upstream):
    response = post(client, chat(), bank.key())
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    answer = response.get_json()
    assert answer["object"] == "chat.completion"
    assert answer["choices"][0]["message"]["content"] == "你好，世界！Hello 🌍"
    assert answer["usage"]["prompt_tokens"] == 12


def test_streaming_relays_every_event_in_order_then_done(client, bank, upstream):
    response = post(client, chat(stream=True, fake={"text": "春眠不觉晓🌸", "chunks": 6}), bank.key())
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    data = sse_data(response.get_data(as_text=True))
    assert data[-1] == "[DONE]"
    text = "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_json(response.get_data(as_text=True)))
    assert text == "春眠不觉晓🌸"


def test_stream_usage_on_the_last_content_chunk_stays_as_the_upstream_sent_it(client, bank, upstream):
    response = post(client, chat(stream=True, fake={"chunks": 3}), bank.key())
    chunks = sse_json(response.get_data(as_text=True))
    assert chunks[-1]["usage"]["completion_tokens"] == 3
    assert chunks[-1]["choices"][0]["finish_reason"] == "stop"


def test_usage_only_chunk_is_withheld_from_a_client_that_did_not_ask(client, bank, upstream):
    response = post(client, chat(stream=True, fake={"chunks": 3, "usage_chunk": True}), bank.key())
    chunks = sse_json(response.get_data(as_text=True))
    assert all(chunk["choices"] for chunk in chunks)


def test_usage_only_chunk_reaches_a_client_that_asked(client, bank, upstream):
    body = chat(stream=True, stream_options={"include_usage": True},
                fake={"chunks": 3, "usage_chunk": True})
    chunks = sse_json(post(client, body, bank.key()).get_data(as_text=True))
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"]["completion_tokens"] == 3


def test_gateway_always_asks_the_upstream_for_stream_usage(client, bank, upstream):
    post(client, chat(stream=True), bank.key())
    assert upstream.stats()["bodies"][0]["stream_options"] == {"include_usage": True}


def test_defaults_are_sent_upstream_and_other_fields_pass_unchanged(client, bank, upstream):
    post(client, chat(top_p=0.5, thinking={"type": "disabled"}), bank.key())
    sent = upstream.stats()["bodies"][0]
    assert sent["temperature"] == 0.7
    assert sent["max_tokens"] == PRICE["max_output"]
    assert sent["top_p"] == 0.5
    assert sent["thinking"] == {"type": "disabled"}


def test_upstream_gets_the_operators_key_not_the_callers(client, bank, upstream):
    token = bank.key()
    post(client, chat(), token)
    assert upstream.stats()["authorizations"] == ["Bearer sk-upstream-operator-secret"]


def test_bearer_authorization_is_accepted_like_x_api_key(client, bank, upstream):
    response = client.post("/v1/chat/completions", json=chat(),
                           headers={"Authorization": f"Bearer {bank.key()}", "X-AI-Provider": "deepseek"})
    assert response.status_code == 200


def test_provider_is_inferred_from_the_model_without_the_header(client, bank, upstream):
    assert post(client, chat(), bank.key(), provider=None).status_code == 200


def test_provider_can_be_named_in_the_model(client, bank, upstream):
    response = post(client, chat(model=f"deepseek/{MODEL}"), bank.key(), provider=None)
    assert response.status_code == 200
    assert upstream.stats()["bodies"][0]["model"] == MODEL


# --- money ------------------------------------------------------------------------------------

def test_non_streaming_request_is_charged_exactly_once_with_a_ledger_row(client, bank, upstream):
    account = bank.account("10")
    post(client, chat(fake={"chunks": 7}), bank.key(account))
    cost = expected_cost(prompt=12, cached=4, completion=7)
    assert bank.charges(account) == [-cost]
    assert bank.balance(account) == 10_000_000 - cost
    assert bank.held(account) == 0
    bank.assert_consistent()


def test_streaming_request_is_charged_from_the_upstream_usage(client, bank, upstream):
    account = bank.account("10")
    post(client, chat(stream=True, fake={"chunks": 9}), bank.key(account))
    assert bank.charges(account) == [-expected_cost(completion=9)]
    [row] = bank.requests(account)
    assert (row.state, row.status, row.usage_estimated) == ("settled", 200, False)
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (12, 4, 9)
    bank.assert_consistent()


def test_balance_endpoint_reflects_the_charge(client, bank, upstream):
    account = bank.account("1")
    token = bank.key(account)
    post(client, chat(fake={"chunks": 5}), token)
    response = client.get("/v1/balance", headers={"X-API-Key": token})
    left = 1_000_000 - expected_cost(completion=5)
    assert response.get_json() == {"currency": "CNY", "balance": f"0.{left:06d}", "held": "0.000000"}


def test_insufficient_balance_is_403_and_the_upstream_is_never_called(client, bank, upstream):
    account = bank.account("0.001")
    response = post(client, chat(), bank.key(account))
    assert response.status_code == 403
    assert response.get_json()["error"]["code"] == "insufficient_balance"
    assert upstream.stats()["requests"] == 0
    assert bank.balance(account) == 1000
    assert bank.requests(account) == []


def test_a_smaller_max_tokens_fits_a_small_balance(client, bank, upstream):
    account = bank.account("0.001")
    assert post(client, chat(max_tokens=10), bank.key(account)).status_code == 200


def test_missing_usage_is_estimated_and_marked(client, bank, upstream):
    account = bank.account("10")
    post(client, chat(fake={"usage": None}), bank.key(account))
    [row] = bank.requests(account)
    assert row.usage_estimated and row.cost > 0
    bank.assert_consistent()


@pytest.mark.parametrize("usage", [
    {"prompt_tokens": -5, "completion_tokens": -100},
    {"prompt_tokens": "12", "completion_tokens": 3},
    {"prompt_tokens": 10**12, "completion_tokens": 10**12},
])
def test_untrusted_usage_never_raises_a_balance_nor_exceeds_the_hold(client, bank, upstream, usage):
    account = bank.account("10")
    response = post(client, chat(fake={"usage": usage}), bank.key(account))
    assert response.status_code == 200
    [row] = bank.requests(account)
    assert 0 < row.cost <= row.hold
    assert bank.balance(account) == 10_000_000 - row.cost
    bank.assert_consistent()


# --- errors before the upstream ---------------------------------------------------------------

INVALID_KEY_BODY = {"error": {"message": "Missing or invalid API key.", "type": "invalid_request_error",
                              "param": None, "code": "invalid_api_key"}}


def test_missing_key_is_401(client, upstream):
    response = client.post("/v1/chat/completions", json=chat())
    assert (response.status_code, response.get_json()) == (401, INVALID_KEY_BODY)


@pytest.mark.parametrize("token", ["sk-qc-" + "x" * 43, "not-a-key", "sk-qc-"])
def test_unknown_or_malformed_key_is_401(client, upstream, token):
    response = post(client, chat(), token)
    assert (response.status_code, response.get_json()) == (401, INVALID_KEY_BODY)


def test_revoked_key_is_401(client, bank, upstream):
    token = bank.key()
    ApiKey.update(revoked=True).execute()
    response = post(client, chat(), token)
    assert (response.status_code, response.get_json()) == (401, INVALID_KEY_BODY)


def test_expired_key_is_401(client, bank, upstream):
    token = bank.key(expires=1.0)
    response = post(client, chat(), token)
    assert (response.status_code, response.get_json()) == (401, INVALID_KEY_BODY)


@pytest.mark.parametrize("body, param", [
    ({"messages": [{"role": "user", "content": "hi"}]}, "model"),
    ({"model": MODEL}, "messages"),
    ({"model": MODEL, "messages": []}, "messages"),
    ({"model": MODEL, "messages": ["hi"]}, "messages"),
    (chat(temperature=3), "temperature"),
    (chat(temperature="hot"), "temperature"),
    (chat(max_tokens=-1), "max_tokens"),
    (chat(max_tokens=1.5), "max_tokens"),
    (chat(max_tokens=PRICE["max_output"] + 1), "max_tokens"),
    (chat(stream="yes"), "stream"),
    (chat(model="gpt-unknown"), "model"),
])
def test_bad_field_is_400_naming_it(client, bank, upstream, body, param):
    account = bank.account("10")
    response = post(client, body, bank.key(account))
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == param
    assert upstream.stats()["requests"] == 0
    assert bank.balance(account) == 10_000_000


@pytest.mark.parametrize("raw", [b"{not json", b"[1, 2]", b"\xff\xfe"])
def test_body_that_is_not_a_json_object_is_400(client, bank, upstream, raw):
    response = client.post("/v1/chat/completions", data=raw, headers={
        **headers(bank.key()), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"


def test_unknown_provider_is_400(client, bank, upstream):
    response = post(client, chat(), bank.key(), provider="nosuchai")
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_provider"


def test_body_over_the_limit_is_413_before_it_is_read(client, bank, upstream):
    response = post(client, chat(content="x" * (4 * 1024 * 1024)), bank.key())
    assert response.status_code == 413
    assert response.get_json()["error"]["code"] == "request_too_large"


def test_unconfigured_provider_names_the_variable_to_set(app, client, bank, upstream):
    from providers import Upstream
    configured = app.config["UPSTREAMS"]["deepseek"]
    app.config["UPSTREAMS"] = {"deepseek": Upstream(configured.provider, configured.base_url, "")}
    account = bank.account("10")
    response = post(client, chat(), bank.key(account))
    assert response.status_code == 503
    assert "DEEPSEEK_API_KEY" in response.get_json()["error"]["message"]
    assert bank.balance(account) == 10_000_000 and bank.requests(account) == []


# --- errors from the upstream -----------------------------------------------------------------

@pytest.mark.parametrize("fake, status, code", [
    ({"status": 500}, 502, "upstream_error"),
    ({"status": 503}, 502, "upstream_error"),
    ({"status": 402, "message": "Insufficient Balance"}, 502, "upstream_error"),
    ({"status": 422, "message": "bad temperature", "code": "invalid_parameter"}, 422, "invalid_parameter"),
    ({"status": 400, "message": "Invalid Format"}, 400, "invalid_request_error"),
    ({"malformed": True}, 502, "upstream_error"),
])
def test_upstream_failure_maps_to_the_documented_error_and_releases_the_hold(
        client, bank, upstream, fake, status, code):
    account = bank.account("10")
    response = post(client, chat(fake=fake), bank.key(account))
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    assert bank.balance(account) == 10_000_000 and bank.held(account) == 0
    assert [r.state for r in bank.requests(account)] == ["settled"]
    bank.assert_consistent()


def test_upstream_4xx_message_is_passed_on(client, bank, upstream):
    response = post(client, chat(fake={"status": 400, "message": "Invalid Format"}), bank.key())
    assert response.get_json()["error"]["message"] == "Invalid Format"


def test_upstream_rejecting_the_operators_credentials_is_502_not_401(app, client, bank, upstream):
    from providers import Upstream
    configured = app.config["UPSTREAMS"]["deepseek"]
    app.config["UPSTREAMS"] = {"deepseek": Upstream(configured.provider, configured.base_url, "sk-wrong")}
    response = post(client, chat(), bank.key())
    assert response.status_code == 502
    error = response.get_json()["error"]
    assert error["code"] == "upstream_error"
    assert "sk-wrong" not in response.get_data(as_text=True)


def test_upstream_rate_limit_is_429_with_its_retry_after(client, bank, upstream):
    response = post(client, chat(fake={"status": 429, "retry_after": "7"}), bank.key())
    assert response.status_code == 429
    assert response.get_json()["error"]["code"] == "upstream_rate_limited"
    assert response.headers["Retry-After"] == "7"


def test_unreachable_upstream_is_502(app, client, bank, upstream):
    from helpers import free_port
    from providers import Upstream
    configured = app.config["UPSTREAMS"]["deepseek"]
    app.config["UPSTREAMS"] = {"deepseek": Upstream(
        configured.provider, f"http://127.0.0.1:{free_port()}/v1", configured.api_key)}
    account = bank.account("10")
    response = post(client, chat(), bank.key(account))
    assert response.status_code == 502
    assert response.get_json()["error"]["code"] == "upstream_error"
    assert bank.balance(account) == 10_000_000


def test_slow_upstream_is_504(client, bank, upstream):
    account = bank.account("10")
    response = post(client, chat(fake={"delay": 3}), bank.key(account))
    assert response.status_code == 504
    assert response.get_json()["error"]["code"] == "upstream_timeout"
    assert bank.balance(account) == 10_000_000 and bank.held(account) == 0


# --- the other routes -------------------------------------------------------------------------

def test_models_lists_the_priced_models(client, bank):
    response = client.get("/v1/models", headers={"X-API-Key": bank.key()})
    assert response.get_json() == {"object": "list", "data": [
        {"id": MODEL, "object": "model", "created": 0, "owned_by": "deepseek"}]}


def test_models_needs_a_key(client):
    assert client.get("/v1/models").status_code == 401


def test_healthz_answers_ok(client):
    assert client.get("/healthz").status_code == 200


def test_every_response_carries_a_request_id(client, bank, upstream):
    assert client.get("/healthz").headers["X-Request-ID"].startswith("req_")
    assert client.post("/v1/chat/completions").headers["X-Request-ID"].startswith("req_")


def test_a_sane_caller_request_id_is_kept_and_logged(client, bank, upstream):
    account = bank.account("10")
    response = client.post("/v1/chat/completions", json=chat(),
                           headers={**headers(bank.key(account)), "X-Request-ID": "trace-42"})
    assert response.headers["X-Request-ID"] == "trace-42"
    assert [r.request_id for r in RequestLog.select()] == ["trace-42"]


def test_an_insane_caller_request_id_is_replaced(client):
    response = client.get("/healthz", headers={"X-Request-ID": "<script>" + "x" * 300})
    assert response.headers["X-Request-ID"].startswith("req_")


def test_unknown_api_route_is_a_json_404(client):
    response = client.get("/v1/nothing-here")
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_internal_fault_is_a_json_500_without_a_traceback(app, client, bank, upstream, monkeypatch):
    import billing
    monkeypatch.setattr(billing, "charge", lambda *a: 1 / 0)
    response = client.post("/v1/chat/completions", json=chat(), headers=headers(bank.key()))
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    assert "Traceback" not in response.get_data(as_text=True)
    assert json.dumps(response.get_json()).count("ZeroDivision") == 0
