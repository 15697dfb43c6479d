"""Claude through POST /v1/chat/completions (Flask's test client), against the fake Anthropic
process: what reaches Anthropic, what the caller gets back, and the exact charge."""
import dataclasses
import json

import pytest

from helpers import (CLAUDE, CLAUDE_PRICE, UPSTREAM_KEY, anthropic_cost, claude_chat, headers,
                     sse_data, sse_json)

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "今天的天气",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
WEATHER_CALL = {"type": "tool_use", "name": "get_weather", "input": {"city": "成都"}}
CACHE_USAGE = {"input_tokens": 10, "cache_read_input_tokens": 700, "cache_creation_input_tokens": 90}


def post(client, body, token, provider="anthropic"):
    """POST and close the response, as a WSGI server would (that is when a stream settles)."""
    response = client.post("/v1/chat/completions", json=body, headers=headers(token, provider))
    response.get_data()
    response.close()
    return response


def give_anthropic_key(app, api_key):
    upstreams = app.config["UPSTREAMS"]
    upstreams["anthropic"] = dataclasses.replace(upstreams["anthropic"], api_key=api_key)


def streamed(response):
    """(the chunks' deltas, the finish reasons) of a streamed answer that ended with [DONE]."""
    assert sse_data(response.get_data(as_text=True))[-1] == "[DONE]"
    chunks = [c for c in sse_json(response.get_data(as_text=True)) if c["choices"]]
    return ([c["choices"][0]["delta"] for c in chunks],
            [c["choices"][0]["finish_reason"] for c in chunks if c["choices"][0]["finish_reason"]])


def text_of(deltas):
    return "".join(delta.get("content") or "" for delta in deltas)


# --- what reaches Anthropic ----------------------------------------------------------------------

def test_anthropic_gets_the_operators_key_and_the_pinned_version(client, bank, claude):
    assert post(client, claude_chat(), bank.key()).status_code == 200
    [sent] = claude.stats()["headers"]
    assert (sent["x-api-key"], sent["anthropic-version"]) == (UPSTREAM_KEY, "2023-06-01")
    assert sent["authorization"] is None


def test_anthropic_gets_a_translated_body_with_max_tokens_and_without_foreign_fields(client, bank, claude):
    body = claude_chat(messages=[{"role": "system", "content": "简短回答。"},
                                 {"role": "user", "content": "你好"}],
                       temperature=1.6, stop="。", frequency_penalty=0.5, seed=3, logprobs=True)
    assert post(client, body, bank.key()).status_code == 200
    [sent] = claude.stats()["bodies"]
    assert sent == {"model": CLAUDE, "max_tokens": CLAUDE_PRICE["max_output"], "temperature": 1,
                    "system": [{"type": "text", "text": "简短回答。"}], "stop_sequences": ["。"],
                    "messages": [{"role": "user", "content": [{"type": "text", "text": "你好"}]}]}


def test_the_provider_is_inferred_from_a_claude_model(client, bank, claude):
    assert post(client, claude_chat(), bank.key(), provider=None).status_code == 200
    assert claude.stats()["requests"] == 1


def test_images_reach_anthropic_as_base64_and_url_sources(client, bank, claude):
    parts = [{"type": "text", "text": "两张图有什么不同？"},
             {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
             {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}]
    assert post(client, claude_chat(parts), bank.key()).status_code == 200
    [sent] = claude.stats()["bodies"]
    assert sent["messages"][0]["content"][1:] == [
        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}},
        {"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]


def test_a_message_that_cannot_be_translated_is_a_400_that_costs_nothing(client, bank, claude):
    account = bank.account("10")
    response = post(client, claude_chat([{"type": "input_audio", "input_audio": {}}]), bank.key(account))
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == "messages"
    assert claude.stats()["requests"] == 0
    assert (bank.balance(account), bank.held(account), bank.charges(account)) == (10_000_000, 0, [])
    bank.assert_consistent()


# --- the answer ----------------------------------------------------------------------------------

def test_a_claude_answer_is_an_openai_chat_completion(client, bank, claude):
    response = post(client, claude_chat(), bank.key())
    assert (response.status_code, response.mimetype) == (200, "application/json")
    answer = response.get_json()
    assert answer["object"] == "chat.completion" and answer["id"].startswith("chatcmpl-")
    assert answer["model"] == CLAUDE
    assert answer["choices"] == [{"index": 0, "logprobs": None, "finish_reason": "stop", "message": {
        "role": "assistant", "content": "你好，世界！Hello 🌍"}}]
    assert answer["usage"] == {"prompt_tokens": 12, "completion_tokens": 13, "total_tokens": 25,
                               "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}}


def test_a_claude_stream_is_openai_chunks_then_done(client, bank, claude):
    response = post(client, claude_chat(stream=True), bank.key())
    assert (response.status_code, response.mimetype) == (200, "text/event-stream")
    deltas, finish_reasons = streamed(response)
    assert deltas[0] == {"role": "assistant", "content": ""}
    assert text_of(deltas) == "你好，世界！Hello 🌍"
    assert finish_reasons == ["stop"]


def test_the_stream_usage_chunk_reaches_only_a_caller_who_asked(client, bank, claude):
    plain = sse_json(post(client, claude_chat(stream=True), bank.key()).get_data(as_text=True))
    assert all(chunk["choices"] for chunk in plain)
    asked = sse_json(post(client, claude_chat(stream=True, stream_options={"include_usage": True},
                                              fake={"usage": CACHE_USAGE}), bank.key()).get_data(as_text=True))
    assert asked[-1]["choices"] == []
    assert asked[-1]["usage"] == {"prompt_tokens": 800, "completion_tokens": 13, "total_tokens": 813,
                                  "prompt_tokens_details": {"cached_tokens": 700, "cache_write_tokens": 90}}


def test_thinking_comes_back_as_reasoning_content(client, bank, claude):
    fake = {"reply": [{"type": "thinking", "thinking": "想一想"}, {"type": "text", "text": "好"}]}
    message = post(client, claude_chat(fake=fake), bank.key()).get_json()["choices"][0]["message"]
    assert (message["reasoning_content"], message["content"]) == ("想一想", "好")
    deltas, _ = streamed(post(client, claude_chat(stream=True, fake=fake), bank.key()))
    assert "".join(d.get("reasoning_content") or "" for d in deltas) == "想一想"
    assert text_of(deltas) == "好"


@pytest.mark.parametrize("fields, finish_reason, text", [
    ({}, "stop", "你好，世界！Hello 🌍"),
    ({"stop": ["世界"]}, "stop", "你好，"),
    ({"max_tokens": 3}, "length", "你好，"),
    ({"fake": {"reply": [WEATHER_CALL]}}, "tool_calls", None),
])
@pytest.mark.parametrize("stream", [False, True])
def test_stop_reasons_become_finish_reasons(client, bank, claude, fields, finish_reason, text, stream):
    response = post(client, claude_chat(stream=stream, **fields), bank.key())
    if stream:
        deltas, finish_reasons = streamed(response)
        assert (finish_reasons, text_of(deltas)) == ([finish_reason], text or "")
    else:
        [choice] = response.get_json()["choices"]
        assert (choice["finish_reason"], choice["message"]["content"]) == (finish_reason, text)


# --- tools both ways -----------------------------------------------------------------------------

def test_a_tool_call_comes_back_with_json_string_arguments(client, bank, claude):
    body = claude_chat("成都天气？", fake={"reply": [WEATHER_CALL]}, tools=[WEATHER_TOOL], tool_choice="required")
    answer = post(client, body, bank.key()).get_json()
    [call] = answer["choices"][0]["message"]["tool_calls"]
    assert call["id"].startswith("toolu_") and call["type"] == "function"
    assert call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "成都"}
    [sent] = claude.stats()["bodies"]
    assert sent["tools"] == [{"name": "get_weather", "description": "今天的天气",
                              "input_schema": WEATHER_TOOL["function"]["parameters"]}]
    assert sent["tool_choice"] == {"type": "any"}


def test_a_streamed_tool_call_arrives_as_indexed_argument_fragments(client, bank, claude):
    body = claude_chat(fake={"reply": [WEATHER_CALL, {**WEATHER_CALL, "input": {"city": "重庆"}}]},
                       tools=[WEATHER_TOOL], stream=True)
    deltas, finish_reasons = streamed(post(client, body, bank.key()))
    fragments = [call for delta in deltas for call in delta.get("tool_calls", ())]
    assert [f["function"]["name"] for f in fragments if "id" in f] == ["get_weather", "get_weather"]
    for index, city in enumerate(["成都", "重庆"]):
        arguments = "".join(f["function"]["arguments"] for f in fragments if f["index"] == index)
        assert json.loads(arguments) == {"city": city}
    assert len(fragments) > 4 and finish_reasons == ["tool_calls"]


def test_tool_results_go_back_to_claude_after_its_tool_calls(client, bank, claude):
    token = bank.key()
    first = claude_chat("成都和重庆天气？", fake={"reply": [WEATHER_CALL, WEATHER_CALL]}, tools=[WEATHER_TOOL])
    calls = post(client, first, token).get_json()["choices"][0]["message"]["tool_calls"]
    history = [first["messages"][0], {"role": "assistant", "content": None, "tool_calls": calls},
               *[{"role": "tool", "tool_call_id": call["id"], "content": weather}
                 for call, weather in zip(calls, ["晴", "雨"])]]
    response = post(client, claude_chat(messages=history, tools=[WEATHER_TOOL]), token)
    assert response.status_code == 200, response.get_json()
    sent = claude.stats()["bodies"][1]["messages"]
    assert [turn["role"] for turn in sent] == ["user", "assistant", "user"]
    assert [block["tool_use_id"] for block in sent[2]["content"]] == [call["id"] for call in calls]
    assert sent[1]["content"][0]["input"] == {"city": "成都"}


# --- money ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
def test_cache_reads_and_writes_are_charged_exactly(client, bank, claude, stream):
    account = bank.account("10")
    post(client, claude_chat(stream=stream, fake={"usage": CACHE_USAGE}), bank.key(account))
    cost = anthropic_cost(input_tokens=10, cache_read=700, cache_write=90, output=13)
    assert bank.charges(account) == [-cost]
    assert (bank.balance(account), bank.held(account)) == (10_000_000 - cost, 0)
    [row] = bank.requests(account)
    assert (row.state, row.status, row.usage_estimated) == ("settled", 200, False)
    assert (row.prompt_tokens, row.cached_tokens, row.completion_tokens) == (800, 700, 13)
    bank.assert_consistent()


# --- errors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("fake, status, code", [
    ({"status": 529}, 502, "upstream_error"),
    ({"status": 500}, 502, "upstream_error"),
    ({"status": 403}, 502, "upstream_error"),
    ({"status": 400, "message": "Your credit balance is too low to access the Anthropic API."},
     502, "upstream_error"),
    ({"status": 429, "retry_after": "7"}, 429, "upstream_rate_limited"),
    ({"status": 400, "message": "messages: roles must alternate"}, 400, "invalid_request"),
    ({"status": 413, "message": "Request exceeds the maximum allowed number of bytes."}, 413,
     "request_too_large"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_anthropic_errors_are_mapped_and_cost_nothing(client, bank, claude, fake, status, code, stream):
    account = bank.account("10")
    response = post(client, claude_chat(stream=stream, fake=fake), bank.key(account))
    assert response.status_code == status
    error = response.get_json()["error"]
    assert error["code"] == code
    if status < 500 and code != "upstream_rate_limited":
        assert error["message"] == fake["message"]
    if status == 429:
        assert response.headers["Retry-After"] == "7"
    assert (bank.balance(account), bank.held(account), bank.charges(account)) == (10_000_000, 0, [])
    bank.assert_consistent()


def test_a_wrong_operator_key_is_a_502_not_the_callers_401(client, app, bank, claude):
    give_anthropic_key(app, "sk-wrong")
    response = post(client, claude_chat(), bank.key())
    assert (response.status_code, response.get_json()["error"]["code"]) == (502, "upstream_error")
    assert response.headers["x-should-retry"] == "false"


def test_without_an_anthropic_key_the_provider_is_not_configured(client, app, bank, claude):
    give_anthropic_key(app, "")
    response = post(client, claude_chat(), bank.key())
    assert (response.status_code, response.get_json()["error"]["code"]) == (503, "provider_not_configured")
    assert "ANTHROPIC_API_KEY" in response.get_json()["error"]["message"]
    assert claude.stats()["requests"] == 0


def test_an_error_event_mid_stream_ends_the_stream_and_charges_what_was_relayed(client, bank, claude):
    account = bank.account("10")
    response = post(client, claude_chat(stream=True, fake={"fail_after": 3}), bank.key(account))
    data = sse_data(response.get_data(as_text=True))
    assert "[DONE]" not in data
    assert json.loads(data[-1]) == {"error": {
        "message": "The upstream anthropic failed (HTTP 529).", "type": "server_error", "param": None,
        "code": "upstream_error"}}
    assert text_of(c["choices"][0]["delta"] for c in map(json.loads, data[:-1])) == "你好，"
    [row] = bank.requests(account)
    assert (row.state, row.status, row.usage_estimated, row.completion_tokens) == ("settled", 502, True, 3)
    assert bank.charges(account) == [-row.cost] and row.cost > 0
    bank.assert_consistent()
