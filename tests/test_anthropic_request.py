"""Anthropic's translation of the caller's OpenAI body into a Messages API request, as a pure
function, without a network."""
import json

import pytest

from errors import ApiError
from providers.anthropic import messages_request, provider
from providers.base import Upstream

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


@pytest.mark.parametrize("kind", ["enabled", "adaptive"])
def test_temperature_and_top_k_are_left_out_while_claude_thinks(kind):
    thinking = {"type": kind, "budget_tokens": 500}
    request = sent(thinking=thinking, top_k=5, top_p=0.95)
    assert (request["thinking"], request["top_p"]) == (thinking, 0.95)
    assert "temperature" not in request and "top_k" not in request


def test_sampling_is_sent_when_thinking_is_off():
    request = sent(thinking={"type": "disabled"}, top_k=5, top_p=0.9)
    assert (request["temperature"], request["top_k"], request["top_p"]) == (0.7, 5, 0.9)


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
