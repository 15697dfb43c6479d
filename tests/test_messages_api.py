"""POST /v1/messages with the official `anthropic` package, served twice: by the OpenAI-style fake
through the translation (real gunicorn), and natively by an Anthropic-style fake (the app behind a
real server in this process, with an `anthropic` provider defined here)."""
import json
from types import SimpleNamespace

import anthropic
import pytest
import requests

from fake_upstream import DEFAULT_TEXT, THOUGHT
from helpers import (MODEL, PRICE, UPSTREAM_KEY, AppServer, FakeUpstream, expected_cost, free_port,
                     sse_data)
from models import Price
from providers import PROVIDERS
from providers.base import Upstream

CLAUDE = "claude-sonnet-5-5"
NATIVE = SimpleNamespace(name="anthropic", env_prefix="ANTHROPIC", models=(CLAUDE,),
                         speaks_messages=True)
WEATHER = {"name": "get_weather", "description": "今天的天气",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
HELLO = [{"role": "user", "content": "你好"}]


@pytest.fixture(scope="module")
def anthropic_fake():
    fake = FakeUpstream("fake_anthropic_messages.py", path="")
    yield fake
    fake.stop()


@pytest.fixture
def native_server(app, anthropic_fake, monkeypatch):
    anthropic_fake.reset()
    monkeypatch.setitem(PROVIDERS, "anthropic", NATIVE)
    app.config["UPSTREAMS"] = {**app.config["UPSTREAMS"],
                               "anthropic": Upstream(NATIVE, anthropic_fake.url, UPSTREAM_KEY)}
    Price.create(provider="anthropic", model=CLAUDE, **PRICE)
    running = AppServer(app)
    yield running
    running.stop()


@pytest.fixture(params=["translated", "native"])
def door(request, upstream):
    """(server, model, the fake upstream) for each way /v1/messages is served."""
    if request.param == "translated":
        return SimpleNamespace(server=request.getfixturevalue("server"), model=MODEL, fake=upstream)
    return SimpleNamespace(server=request.getfixturevalue("native_server"), model=CLAUDE,
                           fake=request.getfixturevalue("anthropic_fake"))


def client(server, token, **options):
    return anthropic.Anthropic(base_url=server.url, api_key=token, max_retries=0, **options)


# --- answers ----------------------------------------------------------------------------------

def test_a_message_is_answered_and_charged_exactly(door, bank):
    account = bank.account("10")
    message = client(door.server, bank.key(account)).messages.create(
        model=door.model, max_tokens=100, messages=HELLO)
    assert message.content[0].text == DEFAULT_TEXT
    assert (message.role, message.stop_reason, message.model) == ("assistant", "end_turn", door.model)
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.output_tokens) == (8, 4, 13)
    assert bank.charges(account) == [-expected_cost(completion=13)]
    bank.assert_consistent()


def test_a_streamed_message_arrives_as_anthropic_events(door, bank):
    account = bank.account("10")
    with client(door.server, bank.key(account)).messages.stream(
            model=door.model, max_tokens=100, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == DEFAULT_TEXT
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == ("end_turn", 8, 13)
    assert bank.charges(account) == [-expected_cost(completion=13)]
    bank.assert_consistent()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_tool_use_round_trip(door, bank, streamed):
    account = bank.account("10")
    claude = client(door.server, bank.key(account))

    def ask(conversation):
        if not streamed:
            return claude.messages.create(model=door.model, max_tokens=100, tools=[WEATHER],
                                          messages=conversation)
        with claude.messages.stream(model=door.model, max_tokens=100, tools=[WEATHER],
                                    messages=conversation) as stream:
            return stream.get_final_message()

    asked = ask([{"role": "user", "content": "北京天气如何？"}])
    assert asked.stop_reason == "tool_use"
    [call] = [block for block in asked.content if block.type == "tool_use"]
    assert (call.name, call.input) == ("get_weather", {"city": "北京"})
    answered = ask([{"role": "user", "content": "北京天气如何？"},
                    {"role": "assistant", "content": asked.content},
                    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id,
                                                  "content": "晴，25°C"}]}])
    assert answered.stop_reason == "end_turn"
    assert answered.content[0].text == "工具结果：晴，25°C"
    costs = [-expected_cost(completion=asked.usage.output_tokens),
             -expected_cost(completion=answered.usage.output_tokens)]
    assert bank.charges(account) == costs
    bank.assert_consistent()


def test_thinking_switches_the_vendors_reasoning_and_comes_back_as_thinking_blocks(server, bank, upstream):
    with client(server, bank.key()).messages.stream(
            model=MODEL, max_tokens=100, messages=HELLO,
            thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        final = stream.get_final_message()
    assert upstream.stats()["bodies"][0]["thinking"] == {"type": "enabled"}
    assert [(block.type, getattr(block, "thinking", None)) for block in final.content] == [
        ("thinking", THOUGHT), ("text", None)]


def test_the_translation_sends_openai_chat_upstream(server, bank, upstream):
    client(server, bank.key()).messages.create(
        model=MODEL, max_tokens=50, system="简短。", stop_sequences=["END"], messages=HELLO)
    sent = upstream.stats()["bodies"][0]
    assert sent["messages"] == [{"role": "system", "content": "简短。"}, *HELLO]
    assert (sent["max_tokens"], sent["stop"]) == (50, ["END"])


def test_max_tokens_above_the_models_largest_is_lowered_to_it(door, bank):
    client(door.server, bank.key()).messages.create(model=door.model, max_tokens=16000, messages=HELLO)
    assert door.fake.stats()["bodies"][0]["max_tokens"] == PRICE["max_output"]


# --- the native relay -------------------------------------------------------------------------

def test_the_native_relay_passes_every_event_as_it_came(native_server, bank):
    response = requests.post(native_server.url + "/v1/messages", stream=True, headers={
        "x-api-key": bank.key(), "anthropic-version": "2023-06-01"}, json={
        "model": CLAUDE, "max_tokens": 100, "messages": HELLO, "stream": True})
    text = response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert "event: ping\ndata: {\"type\": \"ping\"}\n\n" in text
    assert text.rstrip().endswith('event: message_stop\ndata: {"type": "message_stop"}')


def test_the_native_relay_forwards_the_callers_anthropic_version_or_the_oldest(native_server, bank,
                                                                               anthropic_fake):
    client(native_server, bank.key()).messages.create(model=CLAUDE, max_tokens=10, messages=HELLO)
    requests.post(native_server.url + "/v1/messages", headers={"x-api-key": bank.key()},
                  json={"model": CLAUDE, "max_tokens": 10, "messages": HELLO})
    assert anthropic_fake.stats()["versions"] == ["2026-10-21", "2023-06-01"]
    assert anthropic_fake.stats()["authorizations"] == [UPSTREAM_KEY, UPSTREAM_KEY]


def test_the_native_relay_keeps_blocks_no_translation_has(native_server, bank, anthropic_fake):
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "文"}}
    client(native_server, bank.key()).messages.create(
        model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": [document]}])
    assert anthropic_fake.stats()["bodies"][0]["messages"][0]["content"] == [document]


def test_an_upstream_error_part_way_ends_the_stream_with_an_anthropic_error_event(native_server, bank):
    account = bank.account("10")
    with pytest.raises(anthropic.APIStatusError) as failed:
        with client(native_server, bank.key(account)).messages.stream(
                model=CLAUDE, max_tokens=100, messages=HELLO,
                extra_body={"fake": {"fail_part_way": True}}) as stream:
            "".join(stream.text_stream)
    assert failed.value.body["error"]["type"] == "api_error"
    bank.assert_consistent()


def test_an_upstream_400_reaches_the_caller_with_its_message(native_server, bank):
    account = bank.account("10")
    with pytest.raises(anthropic.BadRequestError) as refused:
        client(native_server, bank.key(account)).messages.create(
            model=CLAUDE, max_tokens=10, messages=HELLO,
            extra_body={"fake": {"status": 400, "message": "temperature is not supported"}})
    assert refused.value.body["error"] == {"type": "invalid_request_error",
                                           "message": "temperature is not supported"}
    assert bank.charges(account) == [] and bank.balance(account) == 10_000_000


# --- errors, in Anthropic's envelope ------------------------------------------------------------

def test_a_bad_key_is_an_authentication_error(door):
    with pytest.raises(anthropic.AuthenticationError) as refused:
        client(door.server, "sk-qc-" + "x" * 43).messages.create(
            model=door.model, max_tokens=10, messages=HELLO)
    assert refused.value.status_code == 401
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"] == {"type": "authentication_error",
                                           "message": "Missing or invalid API key."}


def test_a_low_balance_is_a_permission_denied_error_and_costs_nothing(door, bank):
    account = bank.account("0.001")
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        client(door.server, bank.key(account)).messages.create(
            model=door.model, max_tokens=1000, messages=HELLO)
    assert refused.value.body["error"]["type"] == "permission_error"
    assert "balance" in refused.value.body["error"]["message"]
    assert door.fake.stats()["requests"] == 0
    assert bank.balance(account) == 1000 and bank.requests(account) == []


def test_a_key_limit_is_a_rate_limit_error(door, bank):
    account = bank.account("10")
    claude = client(door.server, bank.key(account, rpm=1))
    claude.messages.create(model=door.model, max_tokens=10, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as refused:
        claude.messages.create(model=door.model, max_tokens=10, messages=HELLO)
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    assert refused.value.response.headers["Retry-After"]
    assert len(bank.charges(account)) == 1
    bank.assert_consistent()


def test_a_block_the_translation_cannot_carry_is_a_bad_request_error(server, bank, upstream):
    account = bank.account("10")
    with pytest.raises(anthropic.BadRequestError) as refused:
        client(server, bank.key(account)).messages.create(model=MODEL, max_tokens=10, messages=[
            {"role": "user", "content": [{"type": "document", "source": {
                "type": "text", "media_type": "text/plain", "data": "文"}}]}])
    assert "messages[0].content[0]" in refused.value.body["error"]["message"]
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_an_unreachable_upstream_is_an_api_error_in_anthropics_envelope(app, native_server, bank):
    app.config["UPSTREAMS"]["anthropic"] = Upstream(NATIVE, f"http://127.0.0.1:{free_port()}", UPSTREAM_KEY)
    with pytest.raises(anthropic.InternalServerError) as failed:
        client(native_server, bank.key()).messages.create(model=CLAUDE, max_tokens=10, messages=HELLO)
    assert failed.value.status_code == 502
    assert failed.value.body["error"]["type"] == "api_error"


# --- the caller's key and provider --------------------------------------------------------------

def test_the_key_is_accepted_in_x_api_key_and_the_provider_inferred_from_the_model(server, bank):
    response = requests.post(server.url + "/v1/messages", headers={
        "x-api-key": bank.key(), "anthropic-version": "2026-10-21"}, json={
        "model": MODEL, "max_tokens": 10, "messages": HELLO})
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"


def test_claude_codes_environment_variables_are_enough(server, bank, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", bank.key())
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    message = anthropic.Anthropic(max_retries=0).messages.create(
        model=f"deepseek/{MODEL}", max_tokens=10, messages=HELLO)
    assert message.content[0].text == DEFAULT_TEXT


# --- counting tokens --------------------------------------------------------------------------

def test_count_tokens_answers_the_gateways_upper_bound_and_charges_nothing(server, bank, upstream):
    account = bank.account("10")
    counted = client(server, bank.key(account)).messages.count_tokens(model=MODEL, messages=HELLO)
    body = json.dumps({"model": MODEL, "messages": HELLO}, ensure_ascii=False)
    assert counted.input_tokens >= len("你好".encode())
    assert counted.input_tokens <= len(body.encode()) * 2 + 64
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_count_tokens_needs_a_key(server):
    response = requests.post(server.url + "/v1/messages/count_tokens",
                             json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_a_stream_that_fails_before_it_starts_is_an_error_response_not_an_event(server, bank):
    response = requests.post(server.url + "/v1/messages", headers={"x-api-key": "bad"},
                             json={"model": MODEL, "max_tokens": 10, "messages": HELLO, "stream": True})
    assert response.status_code == 401
    assert sse_data(response.text) == []
