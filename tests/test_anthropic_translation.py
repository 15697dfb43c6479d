"""Anthropic's translation as pure functions, on recorded payloads, without a network: the caller's
OpenAI body out, Anthropic's answers, streams and errors back."""
import json

import pytest

from errors import ApiError
from providers.anthropic import messages_request, provider
from providers.base import Upstream, Usage

KEY = "sk-ant-operator"


def body(*messages, **fields):
    """A body as the gateway hands it over: with its temperature and max_tokens defaults."""
    return {"model": "claude-sonnet-5-5", "messages": list(messages) or [user("你好")],
            "temperature": 0.7, "max_tokens": 1000, **fields}


def user(content):
    return {"role": "user", "content": content}


def sent(*messages, **fields):
    return messages_request(body(*messages, **fields), stream=False)


def refused(*messages, **fields):
    with pytest.raises(ApiError) as raised:
        sent(*messages, **fields)
    assert raised.value.status == 400
    return raised.value


# --- the request ---------------------------------------------------------------------------------

def test_request_goes_to_v1_messages_with_the_key_and_the_pinned_version():
    url, headers, payload = provider.request(Upstream(provider, "http://claude.test/", KEY),
                                             body(), stream=True)
    assert url == "http://claude.test/v1/messages"
    assert headers["x-api-key"] == KEY
    assert headers["anthropic-version"] == "2023-06-01"
    assert "Authorization" not in headers
    assert json.loads(payload)["stream"] is True


def test_a_plain_chat_becomes_a_messages_body():
    assert sent(user("你好")) == {
        "model": "claude-sonnet-5-5", "max_tokens": 1000, "temperature": 0.7,
        "messages": [{"role": "user", "content": [{"type": "text", "text": "你好"}]}]}


def test_system_and_developer_messages_go_to_the_top_level_system():
    request = sent({"role": "system", "content": "Be terse."}, user("hi"),
                   {"role": "developer", "content": [{"type": "text", "text": "Use 元."}]})
    assert request["system"] == [{"type": "text", "text": "Be terse."}, {"type": "text", "text": "Use 元."}]
    assert [turn["role"] for turn in request["messages"]] == ["user"]


def test_a_smaller_max_completion_tokens_is_sent_as_max_tokens():
    assert sent(max_completion_tokens=50)["max_tokens"] == 50
    assert sent(max_completion_tokens=5000)["max_tokens"] == 1000


@pytest.mark.parametrize("given, expected", [(0, 0), (0.7, 0.7), (1, 1), (1.5, 1), (2, 1)])
def test_temperature_is_brought_into_anthropics_range(given, expected):
    assert sent(temperature=given)["temperature"] == expected


def test_temperature_and_top_k_are_left_out_while_claude_thinks():
    thinking = {"type": "enabled", "budget_tokens": 500}
    request = sent(thinking=thinking, top_k=5)
    assert request["thinking"] == thinking
    assert "temperature" not in request and "top_k" not in request


@pytest.mark.parametrize("stop, expected", [("END", ["END"]), (["a", "b"], ["a", "b"])])
def test_stop_becomes_stop_sequences(stop, expected):
    assert sent(stop=stop)["stop_sequences"] == expected


@pytest.mark.parametrize("stop", [5, [""], ["a", 1]])
def test_a_stop_that_is_not_text_is_refused(stop):
    assert refused(stop=stop).param == "stop"


def test_fields_anthropic_does_not_take_are_left_out():
    request = sent(frequency_penalty=1, presence_penalty=1, logprobs=True, seed=7, n=1,
                   response_format={"type": "json_object"}, stream_options={"include_usage": True},
                   metadata={"app": "x"}, reasoning_effort="low", store=True)
    assert set(request) == {"model", "max_tokens", "temperature", "messages"}


def test_more_than_one_choice_is_refused():
    assert refused(n=2).param == "n"


def test_the_callers_user_becomes_metadata():
    assert sent(user="u-42")["metadata"] == {"user_id": "u-42"}


def test_image_data_url_becomes_a_base64_source():
    part = {"type": "image_url", "image_url": {"url": "data:image/PNG;base64,iVBORw0KGgo=", "detail": "low"}}
    [turn] = sent(user([{"type": "text", "text": "这是什么？"}, part]))["messages"]
    assert turn["content"][1] == {"type": "image", "source": {
        "type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}


def test_image_http_url_becomes_a_url_source():
    part = {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}}
    [turn] = sent(user([part]))["messages"]
    assert turn["content"] == [{"type": "image", "source": {"type": "url", "url": "https://example.com/cat.jpg"}}]


@pytest.mark.parametrize("part", [
    {"type": "image_url", "image_url": {"url": "ftp://example.com/cat.jpg"}},
    {"type": "image_url", "image_url": {"url": "data:text/plain;base64,aGk="}},
    {"type": "image_url", "image_url": {}},
    {"type": "input_audio", "input_audio": {"data": "…", "format": "wav"}},
    {"type": "text", "text": 5},
    "just a string",
])
def test_a_part_that_cannot_be_translated_is_refused(part):
    assert refused(user([part])).param == "messages"


def test_a_role_anthropic_does_not_take_is_refused():
    assert "function" in refused({"role": "function", "content": "x", "name": "f"}).message


def test_empty_text_is_left_out():
    [turn] = sent(user([{"type": "text", "text": ""}, {"type": "text", "text": "hi"}]))["messages"]
    assert turn["content"] == [{"type": "text", "text": "hi"}]


def test_a_cache_breakpoint_on_a_text_part_is_kept():
    part = {"type": "text", "text": "长文档", "cache_control": {"type": "ephemeral"}}
    [turn] = sent(user([part]))["messages"]
    assert turn["content"] == [part]


WEATHER = {"type": "function", "function": {
    "name": "get_weather", "description": "天气", "strict": True,
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}


def test_tools_become_anthropic_tools():
    assert sent(tools=[WEATHER])["tools"] == [{
        "name": "get_weather", "description": "天气",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}}}]


def test_a_tool_without_parameters_takes_an_empty_object():
    tools = [{"type": "function", "function": {"name": "now"}}]
    assert sent(tools=tools)["tools"] == [{"name": "now", "input_schema": {"type": "object", "properties": {}}}]


@pytest.mark.parametrize("choice, expected", [
    ("auto", {"type": "auto"}), ("required", {"type": "any"}), ("none", {"type": "none"}),
    ({"type": "function", "function": {"name": "get_weather"}}, {"type": "tool", "name": "get_weather"}),
])
def test_tool_choice_is_translated(choice, expected):
    assert sent(tools=[WEATHER], tool_choice=choice)["tool_choice"] == expected


def test_parallel_tool_calls_off_disables_parallel_tool_use():
    assert sent(tools=[WEATHER], parallel_tool_calls=False)["tool_choice"] == {
        "type": "auto", "disable_parallel_tool_use": True}


@pytest.mark.parametrize("tools, choice", [
    ([{"type": "web_search"}], None), (["get_weather"], None), ({"name": "x"}, None),
    ([WEATHER], "sometimes"), ([WEATHER], {"type": "function"}),
])
def test_tools_that_cannot_be_translated_are_refused(tools, choice):
    fields = {"tools": tools} if choice is None else {"tools": tools, "tool_choice": choice}
    assert refused(**fields).param in ("tools", "tool_choice")


def test_tool_calls_and_their_results_become_tool_use_and_one_user_turn_of_tool_results():
    calls = [{"id": "toolu_1", "type": "function",
              "function": {"name": "get_weather", "arguments": '{"city": "成都"}'}},
             {"id": "toolu_2", "type": "function", "function": {"name": "get_weather", "arguments": ""}}]
    request = sent(user("天气？"), {"role": "assistant", "content": None, "tool_calls": calls},
                   {"role": "tool", "tool_call_id": "toolu_1", "content": "晴"},
                   {"role": "tool", "tool_call_id": "toolu_2", "content": [{"type": "text", "text": "雨"}]})
    assert request["messages"][1:] == [
        {"role": "assistant", "content": [
            {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "成都"}},
            {"type": "tool_use", "id": "toolu_2", "name": "get_weather", "input": {}}]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "晴"}]},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": [{"type": "text", "text": "雨"}]}]}]


def test_assistant_text_comes_before_its_tool_calls():
    call = {"id": "toolu_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    [_, turn] = sent(user("hi"), {"role": "assistant", "content": "我查一下", "tool_calls": [call]})["messages"]
    assert [block["type"] for block in turn["content"]] == ["text", "tool_use"]


@pytest.mark.parametrize("message", [
    {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "[1]"}}]},
    {"role": "assistant", "tool_calls": [{"id": "t", "function": {"name": "f", "arguments": "{oops"}}]},
    {"role": "assistant", "tool_calls": [{"function": {"name": "f", "arguments": "{}"}}]},
    {"role": "assistant", "tool_calls": "f()"},
    {"role": "tool", "content": "晴"},
])
def test_tool_messages_that_cannot_be_translated_are_refused(message):
    assert refused(user("hi"), message).param == "messages"


@pytest.mark.parametrize("depth", range(960, 1001))
def test_arguments_nested_about_as_deep_as_python_parses_are_sent_or_refused_never_a_crash(depth):
    """Near the limit, parsing the arguments or writing the translated body runs out of depth."""
    call = {"id": "t", "type": "function",
            "function": {"name": "f", "arguments": '{"a": %s}' % ("[" * depth + "]" * depth)}}
    try:
        provider.request(Upstream(provider, "http://claude.test", KEY),
                         body(user("hi"), {"role": "assistant", "tool_calls": [call]}), stream=False)
    except ApiError as error:
        assert error.status == 400


# --- a whole answer ------------------------------------------------------------------------------

def message(*content, stop_reason="end_turn", usage=None):
    return json.dumps({
        "id": "msg_01XY", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
        "content": list(content), "stop_reason": stop_reason, "stop_sequence": None,
        "usage": usage or {"input_tokens": 12, "cache_creation_input_tokens": 0,
                           "cache_read_input_tokens": 0, "output_tokens": 4}}).encode()


def answer_of(payload):
    answer, usage = provider.completion(payload)
    return json.loads(answer), usage


def test_a_text_message_becomes_a_chat_completion():
    answer, usage = answer_of(message({"type": "text", "text": "你好"}, {"type": "text", "text": "！"}))
    assert answer["id"] == "chatcmpl-01XY"
    assert answer["object"] == "chat.completion"
    assert answer["model"] == "claude-sonnet-5-5"
    assert answer["choices"] == [{"index": 0, "logprobs": None, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": "你好！"}}]
    assert answer["usage"] == {"prompt_tokens": 12, "completion_tokens": 4, "total_tokens": 16,
                               "prompt_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0}}
    assert usage == Usage(prompt=12, completion=4)


def test_tool_use_becomes_tool_calls_with_json_string_arguments():
    answer, _ = answer_of(message(
        {"type": "thinking", "thinking": "要查天气", "signature": "sig"},
        {"type": "tool_use", "id": "toolu_9", "name": "get_weather", "input": {"city": "成都"}},
        stop_reason="tool_use"))
    [choice] = answer["choices"]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"] == {
        "role": "assistant", "content": None, "reasoning_content": "要查天气",
        "tool_calls": [{"id": "toolu_9", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "成都"}'}}]}


@pytest.mark.parametrize("stop_reason, finish_reason", [
    ("end_turn", "stop"), ("stop_sequence", "stop"), ("pause_turn", "stop"),
    ("max_tokens", "length"), ("model_context_window_exceeded", "length"),
    ("tool_use", "tool_calls"), ("refusal", "content_filter"), ("something_new", "stop")])
def test_stop_reasons_become_finish_reasons(stop_reason, finish_reason):
    answer, _ = answer_of(message({"type": "text", "text": "x"}, stop_reason=stop_reason))
    assert answer["choices"][0]["finish_reason"] == finish_reason


def test_cache_reads_and_writes_count_in_the_prompt():
    answer, usage = answer_of(message({"type": "text", "text": "x"}, usage={
        "input_tokens": 10, "cache_read_input_tokens": 700, "cache_creation_input_tokens": 90,
        "output_tokens": 5}))
    assert usage == Usage(prompt=800, cached=700, cache_write=90, completion=5)
    assert answer["usage"]["prompt_tokens"] == 800
    assert answer["usage"]["prompt_tokens_details"] == {"cached_tokens": 700, "cache_write_tokens": 90}


@pytest.mark.parametrize("usage", [{"input_tokens": 10}, {"input_tokens": -1, "output_tokens": 2},
                                   {"input_tokens": 1, "output_tokens": 2, "cache_read_input_tokens": "3"}])
def test_usage_that_is_not_believable_is_none_and_left_out(usage):
    answer, read = answer_of(message({"type": "text", "text": "x"}, usage=usage))
    assert read is None and "usage" not in answer


@pytest.mark.parametrize("payload", [b"<html>", b"[]", b'{"type": "error"}', b'{"type": "message"}'])
def test_a_malformed_answer_is_a_502(payload):
    with pytest.raises(ApiError) as raised:
        provider.completion(payload)
    assert raised.value.status == 502


# --- a stream ------------------------------------------------------------------------------------

def sse(kind, **data):
    return f"event: {kind}\ndata: {json.dumps({'type': kind, **data}, ensure_ascii=False)}\n\n".encode()


START = sse("message_start", message={
    "id": "msg_01XY", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
    "content": [], "stop_reason": None, "stop_sequence": None,
    "usage": {"input_tokens": 10, "cache_creation_input_tokens": 90, "cache_read_input_tokens": 700,
              "output_tokens": 1}})
PING = sse("ping")
STOP = sse("message_stop")


def text_block(index, *pieces):
    return [sse("content_block_start", index=index, content_block={"type": "text", "text": ""}),
            *[sse("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
              for piece in pieces],
            sse("content_block_stop", index=index)]


def tool_block(index, call_id, name, *fragments):
    return [sse("content_block_start", index=index,
                content_block={"type": "tool_use", "id": call_id, "name": name, "input": {}}),
            *[sse("content_block_delta", index=index, delta={"type": "input_json_delta", "partial_json": f})
              for f in fragments],
            sse("content_block_stop", index=index)]


def finish(stop_reason="end_turn", **usage):
    return sse("message_delta", delta={"stop_reason": stop_reason, "stop_sequence": None},
               usage={"output_tokens": 6, **usage})


TEXT_STREAM = [START, *text_block(0, "你好", "，世界"), PING, finish(), STOP]


def translate(events, wants_usage=False):
    return list(provider.events(events, wants_usage))


def chunks(events):
    """The OpenAI chunks the events relay, as JSON, and whether [DONE] ended them."""
    data = b"".join(e.raw for e in events if e.raw is not None).decode().split("\n\n")
    assert data[-1] == ""
    payloads = [d.removeprefix("data: ") for d in data[:-1]]
    return [json.loads(p) for p in payloads if p != "[DONE]"], payloads[-1] == "[DONE]"


def deltas(events):
    return [chunk["choices"][0]["delta"] for chunk in chunks(events)[0] if chunk["choices"]]


def test_a_text_stream_becomes_openai_chunks_then_done():
    events = translate(TEXT_STREAM)
    relayed, done = chunks(events)
    assert done and events[-1].done
    assert [c["object"] for c in relayed] == ["chat.completion.chunk"] * 4
    assert {c["id"] for c in relayed} == {"chatcmpl-01XY"}
    assert {c["model"] for c in relayed} == {"claude-sonnet-5-5"}
    assert deltas(events) == [{"role": "assistant", "content": ""}, {"content": "你好"},
                              {"content": "，世界"}, {}]
    assert [c["choices"][0]["finish_reason"] for c in relayed] == [None, None, None, "stop"]


def test_each_event_is_relayed_as_it_arrives():
    events = translate(TEXT_STREAM)
    assert [e.raw is not None for e in events] == [True, True, True, True, True]
    assert [e.content for e in events] == [False, True, True, False, False]


def test_ping_and_block_stops_are_not_relayed():
    assert translate([PING, sse("content_block_stop", index=0)]) == []


def test_events_cut_anywhere_between_reads_translate_alike():
    whole = b"".join(TEXT_STREAM)
    bytewise = translate([whole[i:i + 1] for i in range(len(whole))])
    assert chunks(bytewise)[0][1:] == chunks(translate(TEXT_STREAM))[0][1:]


def test_usage_combines_message_start_and_message_delta():
    events = translate(TEXT_STREAM)
    assert [e.usage for e in events if e.usage] == [
        Usage(prompt=800, cached=700, cache_write=90, completion=6)]


def test_cumulative_counts_in_message_delta_replace_message_starts():
    events = translate([START, finish(input_tokens=20, cache_read_input_tokens=None), STOP])
    assert [e.usage for e in events if e.usage] == [
        Usage(prompt=810, cached=700, cache_write=90, completion=6)]


def test_the_usage_chunk_is_sent_only_to_a_caller_who_asked():
    assert all(c["choices"] for c in chunks(translate(TEXT_STREAM))[0])
    relayed, done = chunks(translate(TEXT_STREAM, wants_usage=True))
    assert done
    assert relayed[-1]["choices"] == []
    assert relayed[-1]["usage"] == {"prompt_tokens": 800, "completion_tokens": 6, "total_tokens": 806,
                                    "prompt_tokens_details": {"cached_tokens": 700, "cache_write_tokens": 90}}


def test_thinking_deltas_become_reasoning_content():
    thinking = [sse("content_block_start", index=0, content_block={"type": "thinking", "thinking": "", "signature": ""}),
                sse("content_block_delta", index=0, delta={"type": "thinking_delta", "thinking": "嗯"}),
                sse("content_block_delta", index=0, delta={"type": "signature_delta", "signature": "sig"}),
                sse("content_block_stop", index=0)]
    events = translate([START, *thinking, *text_block(1, "好"), finish(), STOP])
    assert deltas(events)[1:3] == [{"reasoning_content": "嗯"}, {"content": "好"}]


def test_tool_calls_stream_as_indexed_starts_and_argument_fragments():
    events = translate([START, *text_block(0, "查一下"),
                        *tool_block(1, "toolu_a", "get_weather", "", '{"city": ', '"成都"}'),
                        *tool_block(2, "toolu_b", "get_time", "{}"),
                        finish("tool_use"), STOP])
    assert deltas(events)[2:] == [
        {"tool_calls": [{"index": 0, "id": "toolu_a", "type": "function",
                         "function": {"name": "get_weather", "arguments": ""}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]},
        {"tool_calls": [{"index": 0, "function": {"arguments": '"成都"}'}}]},
        {"tool_calls": [{"index": 1, "id": "toolu_b", "type": "function",
                         "function": {"name": "get_time", "arguments": ""}}]},
        {"tool_calls": [{"index": 1, "function": {"arguments": "{}"}}]},
        {}]
    assert chunks(events)[0][-1]["choices"][0]["finish_reason"] == "tool_calls"


@pytest.mark.parametrize("error_type, status, code", [
    ("overloaded_error", 502, "upstream_error"), ("api_error", 502, "upstream_error"),
    ("rate_limit_error", 429, "upstream_rate_limited"), ("invalid_request_error", 400, "invalid_request")])
def test_an_error_event_mid_stream_is_raised_after_what_came_before(error_type, status, code):
    failure = sse("error", error={"type": error_type, "message": "Overloaded"})
    relayed = []
    with pytest.raises(ApiError) as raised:
        for event in provider.events([START, *text_block(0, "你")[:2], failure], False):
            relayed.append(event)
    assert (raised.value.status, raised.value.code) == (status, code)
    assert deltas(relayed) == [{"role": "assistant", "content": ""}, {"content": "你"}]


def test_an_event_that_is_not_json_is_a_502():
    with pytest.raises(ApiError) as raised:
        translate([START, b"event: content_block_delta\ndata: {oops\n\n"])
    assert raised.value.status == 502


def test_odd_events_are_ignored_not_a_crash():
    odd = [sse("content_block_delta", index=[1], delta={"type": "input_json_delta", "partial_json": "x"}),
           sse("content_block_start", index={}, content_block={"type": "tool_use"}),
           sse("content_block_delta", index=0, delta="text"), sse("message_delta", delta=None, usage=7),
           sse("brand_new_event")]
    events = translate([START, *odd, STOP])
    assert deltas(events) == [{"role": "assistant", "content": ""}, {}]


# --- errors --------------------------------------------------------------------------------------

def error_body(kind, message="boom"):
    return json.dumps({"type": "error", "error": {"type": kind, "message": message},
                       "request_id": "req_1"}).encode()


@pytest.mark.parametrize("status, kind", [
    (401, "authentication_error"), (403, "permission_error"), (402, "billing_error"),
    (529, "overloaded_error"), (500, "api_error"), (504, "timeout_error")])
def test_the_operators_problems_and_upstream_failures_are_502(status, kind):
    error = provider.error(status, error_body(kind), None)
    assert (error.status, error.code) == (502, "upstream_error")
    assert "boom" not in error.message


def test_an_empty_credit_balance_is_the_operators_problem():
    error = provider.error(400, error_body("invalid_request_error", "Your credit balance is too low to "
                                           "access the Anthropic API."), None)
    assert (error.status, error.code) == (502, "upstream_error")


def test_a_rate_limit_is_429_with_its_retry_after():
    error = provider.error(429, error_body("rate_limit_error"), "7")
    assert (error.status, error.code, error.headers["Retry-After"]) == (429, "upstream_rate_limited", "7")


def test_a_bad_request_is_passed_on_with_its_message():
    error = provider.error(400, error_body("invalid_request_error", "messages: roles must alternate"), None)
    assert (error.status, error.code, error.message) == (400, "invalid_request", "messages: roles must alternate")


def test_a_request_too_large_is_passed_on():
    error = provider.error(413, error_body("request_too_large", "Request exceeds the maximum size"), None)
    assert (error.status, error.code) == (413, "request_too_large")
    assert provider.error(413, b"<html>413 Request Entity Too Large</html>", None).status == 413

