"""POST /v1/messages with the official `anthropic` package under real gunicorn, served twice by the
built-in providers: natively by `anthropic` (its base URL at the fake Anthropic) and through the
translation by `deepseek` (at the OpenAI-style fake)."""
import json
from dataclasses import replace
from types import SimpleNamespace

import anthropic
import pytest
import requests

from fake_upstream import DEFAULT_TEXT, THOUGHT
from helpers import (CLAUDE, CLAUDE_PRICE, MODEL, PRICE, UPSTREAM_KEY, anthropic_cost, claude_messages,
                     expected_cost, free_port, sse_data)

WEATHER = {"name": "get_weather", "description": "今天的天气",
           "input_schema": {"type": "object", "properties": {"city": {"type": "string"}},
                            "required": ["city"]}}
HELLO = [{"role": "user", "content": "你好"}]


@pytest.fixture(params=["native", "translated"])
def door(request, server, upstream):
    """How /v1/messages is served: the provider and model, the fake behind them, the usage it
    reports (fresh input, cache reads) and the charge for `output` tokens."""
    if request.param == "translated":
        return SimpleNamespace(provider="deepseek", model=MODEL, fake=upstream, usage=(8, 4),
                               max_output=PRICE["max_output"],
                               cost=lambda output: expected_cost(completion=output))
    return SimpleNamespace(provider="anthropic", model=CLAUDE, fake=request.getfixturevalue("claude"),
                           usage=(12, 0), max_output=CLAUDE_PRICE["max_output"],
                           cost=lambda output: anthropic_cost(output=output))


def sdk(server, token, **options):
    return anthropic.Anthropic(base_url=server.url, api_key=token, max_retries=0, **options)


# --- answers ----------------------------------------------------------------------------------

def test_a_message_is_answered_and_charged_exactly(door, server, bank):
    account = bank.account("10")
    message = sdk(server, bank.key(account)).messages.create(
        model=door.model, max_tokens=100, messages=HELLO)
    assert message.content[0].text == DEFAULT_TEXT
    assert (message.role, message.stop_reason, message.model) == ("assistant", "end_turn", door.model)
    assert (message.usage.input_tokens, message.usage.cache_read_input_tokens,
            message.usage.output_tokens) == (*door.usage, 13)
    assert bank.charges(account) == [-door.cost(13)]
    bank.assert_consistent()


def test_a_streamed_message_arrives_as_anthropic_events(door, server, bank):
    account = bank.account("10")
    with sdk(server, bank.key(account)).messages.stream(
            model=door.model, max_tokens=100, messages=HELLO) as stream:
        text = "".join(stream.text_stream)
        final = stream.get_final_message()
    assert text == DEFAULT_TEXT
    assert (final.stop_reason, final.usage.input_tokens, final.usage.output_tokens) == (
        "end_turn", door.usage[0], 13)
    assert bank.charges(account) == [-door.cost(13)]
    bank.assert_consistent()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_tool_use_round_trip(door, server, bank, streamed):
    account = bank.account("10")
    claude = sdk(server, bank.key(account))

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
    assert bank.charges(account) == [-door.cost(asked.usage.output_tokens),
                                     -door.cost(answered.usage.output_tokens)]
    bank.assert_consistent()


def test_max_tokens_above_the_models_largest_is_lowered_to_it(door, server, bank):
    sdk(server, bank.key()).messages.create(model=door.model, max_tokens=16000, messages=HELLO)
    assert door.fake.stats()["bodies"][0]["max_tokens"] == door.max_output


def test_claude_codes_environment_variables_are_enough(door, server, bank, monkeypatch):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", bank.key())
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    message = anthropic.Anthropic(max_retries=0).messages.create(
        model=f"{door.provider}/{door.model}", max_tokens=100, messages=HELLO)
    assert message.content[0].text == DEFAULT_TEXT
    assert door.fake.stats()["bodies"][0]["model"] == door.model


# --- the translation --------------------------------------------------------------------------

def test_thinking_switches_the_vendors_reasoning_and_comes_back_as_thinking_blocks(server, bank, upstream):
    with sdk(server, bank.key()).messages.stream(
            model=MODEL, max_tokens=100, messages=HELLO,
            thinking={"type": "enabled", "budget_tokens": 1024}) as stream:
        final = stream.get_final_message()
    assert upstream.stats()["bodies"][0]["thinking"] == {"type": "enabled"}
    assert [(block.type, getattr(block, "thinking", None)) for block in final.content] == [
        ("thinking", THOUGHT), ("text", None)]


def test_the_translation_sends_openai_chat_upstream(server, bank, upstream):
    sdk(server, bank.key()).messages.create(
        model=MODEL, max_tokens=50, system="简短。", stop_sequences=["END"], messages=HELLO)
    sent = upstream.stats()["bodies"][0]
    assert sent["messages"] == [{"role": "system", "content": "简短。"}, *HELLO]
    assert (sent["max_tokens"], sent["stop"]) == (50, ["END"])


def test_a_block_the_translation_cannot_carry_is_a_bad_request_error(server, bank, upstream):
    account = bank.account("10")
    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk(server, bank.key(account)).messages.create(model=MODEL, max_tokens=10, messages=[
            {"role": "user", "content": [{"type": "document", "source": {
                "type": "text", "media_type": "text/plain", "data": "文"}}]}])
    assert "messages[0].content[0]" in refused.value.body["error"]["message"]
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


# --- the native relay -------------------------------------------------------------------------

def test_the_native_relay_passes_every_event_as_it_came(claude_server, bank):
    response = requests.post(claude_server.url + "/v1/messages", stream=True, headers={
        "x-api-key": bank.key(), "anthropic-version": "2023-06-01"}, json={
        "model": CLAUDE, "max_tokens": 100, "messages": HELLO, "stream": True})
    text = response.text
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert "event: ping\ndata: {\"type\": \"ping\"}\n\n" in text
    assert text.rstrip().endswith('event: message_stop\ndata: {"type": "message_stop"}')


def test_the_native_relay_forwards_the_callers_anthropic_headers_or_the_oldest_version(
        claude_server, bank, claude):
    sdk(claude_server, bank.key()).messages.create(model=CLAUDE, max_tokens=10, messages=HELLO)
    requests.post(claude_server.url + "/v1/messages", timeout=10,
                  headers={"x-api-key": bank.key(), "anthropic-beta": "context-1m-2025-08-07"},
                  json={"model": CLAUDE, "max_tokens": 10, "messages": HELLO})
    sent = claude.stats()["headers"]
    assert [h["anthropic-version"] for h in sent] == ["2026-10-21", "2023-06-01"]
    assert [h["anthropic-beta"] for h in sent] == [None, "context-1m-2025-08-07"]
    assert [h["x-api-key"] for h in sent] == [UPSTREAM_KEY, UPSTREAM_KEY]


def test_the_native_relay_keeps_blocks_no_translation_has(claude_server, bank, claude):
    document = {"type": "document", "source": {"type": "text", "media_type": "text/plain", "data": "文"}}
    sdk(claude_server, bank.key()).messages.create(
        model=CLAUDE, max_tokens=10, messages=[{"role": "user", "content": [document]}])
    assert claude.stats()["bodies"][0]["messages"][0]["content"] == [document]


def test_cache_reads_and_writes_of_a_native_stream_are_charged_exactly(claude_server, bank):
    account = bank.account("10")
    usage = {"input_tokens": 10, "cache_read_input_tokens": 700, "cache_creation_input_tokens": 90}
    with sdk(claude_server, bank.key(account)).messages.stream(
            model=CLAUDE, max_tokens=100, messages=claude_messages(fake={"usage": usage})) as stream:
        final = stream.get_final_message()
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == (700, 90)
    assert bank.charges(account) == [-anthropic_cost(input_tokens=10, cache_read=700, cache_write=90,
                                                     output=13)]
    [row] = bank.requests(account)
    assert (row.prompt_tokens, row.cached_tokens, row.cache_write_tokens) == (800, 700, 90)
    bank.assert_consistent()


def test_an_upstream_error_part_way_ends_the_stream_with_an_anthropic_error_event(claude_server, bank):
    account = bank.account("10")
    failing = claude_messages(fake={"fail_after": 2})
    with pytest.raises(anthropic.APIStatusError) as failed:
        with sdk(claude_server, bank.key(account)).messages.stream(
                model=CLAUDE, max_tokens=100, messages=failing) as stream:
            "".join(stream.text_stream)
    assert failed.value.body["error"]["type"] == "api_error"
    [row] = bank.requests(account)
    assert (row.state, row.status) == ("settled", 502)
    bank.assert_consistent()


def test_an_upstream_400_reaches_the_caller_with_its_message(claude_server, bank):
    account = bank.account("10")
    with pytest.raises(anthropic.BadRequestError) as refused:
        sdk(claude_server, bank.key(account)).messages.create(
            model=CLAUDE, max_tokens=10, messages=claude_messages(
                fake={"status": 400, "message": "temperature is not supported"}))
    assert refused.value.body["error"] == {"type": "invalid_request_error",
                                           "message": "temperature is not supported"}
    assert bank.charges(account) == [] and bank.balance(account) == 10_000_000


def test_an_unreachable_upstream_is_an_api_error_in_anthropics_envelope(app, client, bank, claude):
    upstreams = app.config["UPSTREAMS"]
    upstreams["anthropic"] = replace(upstreams["anthropic"], base_url=f"http://127.0.0.1:{free_port()}")
    response = client.post("/v1/messages", headers={"x-api-key": bank.key()},
                           json={"model": CLAUDE, "max_tokens": 10, "messages": HELLO})
    assert response.status_code == 502
    assert response.get_json()["error"]["type"] == "api_error"


# --- errors, in Anthropic's envelope ------------------------------------------------------------

def test_a_bad_key_is_an_authentication_error(door, server):
    with pytest.raises(anthropic.AuthenticationError) as refused:
        sdk(server, "sk-qc-" + "x" * 43).messages.create(
            model=door.model, max_tokens=10, messages=HELLO)
    assert refused.value.status_code == 401
    assert refused.value.body["type"] == "error"
    assert refused.value.body["error"] == {"type": "authentication_error",
                                           "message": "Missing or invalid API key."}


def test_a_low_balance_is_a_permission_denied_error_and_costs_nothing(door, server, bank):
    account = bank.account("0.001")
    with pytest.raises(anthropic.PermissionDeniedError) as refused:
        sdk(server, bank.key(account)).messages.create(
            model=door.model, max_tokens=1000, messages=HELLO)
    assert refused.value.body["error"]["type"] == "permission_error"
    assert "balance" in refused.value.body["error"]["message"]
    assert door.fake.stats()["requests"] == 0
    assert bank.balance(account) == 1000 and bank.requests(account) == []


def test_a_key_limit_is_a_rate_limit_error(door, server, bank):
    account = bank.account("10")
    claude = sdk(server, bank.key(account, rpm=1))
    claude.messages.create(model=door.model, max_tokens=100, messages=HELLO)
    with pytest.raises(anthropic.RateLimitError) as refused:
        claude.messages.create(model=door.model, max_tokens=100, messages=HELLO)
    assert refused.value.body["error"]["type"] == "rate_limit_error"
    assert refused.value.response.headers["Retry-After"]
    assert bank.charges(account) == [-door.cost(13)]
    bank.assert_consistent()


# --- the caller's key, and counting tokens ------------------------------------------------------

def test_the_key_is_accepted_in_x_api_key_and_the_provider_inferred_from_the_model(server, bank):
    response = requests.post(server.url + "/v1/messages", timeout=10, headers={
        "x-api-key": bank.key(), "anthropic-version": "2026-10-21"}, json={
        "model": MODEL, "max_tokens": 10, "messages": HELLO})
    assert response.status_code == 200, response.text
    assert response.json()["type"] == "message"


def test_count_tokens_answers_the_gateways_upper_bound_and_charges_nothing(server, bank, upstream):
    account = bank.account("10")
    counted = sdk(server, bank.key(account)).messages.count_tokens(model=MODEL, messages=HELLO)
    body = json.dumps({"model": MODEL, "messages": HELLO}, ensure_ascii=False)
    assert counted.input_tokens >= len("你好".encode())
    assert counted.input_tokens <= len(body.encode()) * 2 + 64
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_count_tokens_needs_a_key(server):
    response = requests.post(server.url + "/v1/messages/count_tokens", timeout=10,
                             json={"model": MODEL, "messages": HELLO})
    assert response.status_code == 401
    assert response.json()["error"]["type"] == "authentication_error"


def test_a_stream_that_fails_before_it_starts_is_an_error_response_not_an_event(server, bank):
    response = requests.post(server.url + "/v1/messages", headers={"x-api-key": "bad"}, timeout=10,
                             json={"model": MODEL, "max_tokens": 10, "messages": HELLO, "stream": True})
    assert response.status_code == 401
    assert sse_data(response.text) == []
