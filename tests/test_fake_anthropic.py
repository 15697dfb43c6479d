"""The fake Anthropic, checked once against the official `anthropic` package: the SDK parses its
answers, streams and errors as it would the real service's, so the gateway's tests against it
stand for the real thing."""
import json

import anthropic
import pytest

from helpers import CLAUDE, UPSTREAM_KEY

TOOL_REPLY = [{"type": "thinking", "thinking": "先查天气"},
              {"type": "tool_use", "name": "get_weather", "input": {"city": "成都", "days": [1, 2]}}]


@pytest.fixture
def sdk(anthropic_server):
    anthropic_server.reset()
    return anthropic.Anthropic(base_url=anthropic_server.url, api_key=UPSTREAM_KEY, max_retries=0,
                               default_headers={"anthropic-version": "2023-06-01"})


def ask(fake=None, **fields):
    content = [{"type": "text", "text": "你好"}]
    if fake is not None:
        content.append({"type": "text", "text": json.dumps({"fake": fake})})
    return {"model": CLAUDE, "max_tokens": 100, "messages": [{"role": "user", "content": content}],
            **fields}


def test_sdk_parses_a_text_message(sdk):
    message = sdk.messages.create(**ask())
    assert [block.type for block in message.content] == ["text"]
    assert message.content[0].text == "你好，世界！Hello 🌍"
    assert message.stop_reason == "end_turn"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 13)


def test_sdk_parses_thinking_and_tool_use_blocks(sdk):
    message = sdk.messages.create(**ask({"reply": TOOL_REPLY}))
    thinking, tool_use = message.content
    assert (thinking.thinking, thinking.signature) == ("先查天气", "c2lnbmVk")
    assert (tool_use.name, tool_use.input) == ("get_weather", {"city": "成都", "days": [1, 2]})
    assert tool_use.id.startswith("toolu_")
    assert message.stop_reason == "tool_use"


def test_sdk_parses_cache_usage(sdk):
    usage = {"input_tokens": 5, "cache_read_input_tokens": 700, "cache_creation_input_tokens": 90}
    message = sdk.messages.create(**ask({"usage": usage}))
    assert message.usage.cache_read_input_tokens == 700
    assert message.usage.cache_creation_input_tokens == 90


def test_sdk_reads_the_stream_events_in_the_services_order(sdk):
    events = list(sdk.messages.create(**ask({"reply": [{"type": "text", "text": "春眠"}]}),
                                      stream=True))
    assert [event.type for event in events] == [
        "message_start", "content_block_start", "content_block_delta", "content_block_delta",
        "content_block_stop", "message_delta", "message_stop"]
    assert events[-2].usage.output_tokens == 2


def test_sdk_assembles_a_streamed_message(sdk):
    with sdk.messages.stream(**ask()) as stream:
        text = "".join(stream.text_stream)
        message = stream.get_final_message()
    assert text == message.content[0].text == "你好，世界！Hello 🌍"
    assert (message.usage.input_tokens, message.usage.output_tokens) == (12, 13)


def test_sdk_assembles_streamed_thinking_and_tool_input(sdk):
    with sdk.messages.stream(**ask({"reply": TOOL_REPLY})) as stream:
        message = stream.get_final_message()
    thinking, tool_use = message.content
    assert (thinking.thinking, thinking.signature) == ("先查天气", "c2lnbmVk")
    assert tool_use.input == {"city": "成都", "days": [1, 2]}
    assert message.stop_reason == "tool_use"


def test_sdk_raises_the_error_in_the_middle_of_a_stream(sdk):
    with pytest.raises(anthropic.APIStatusError) as raised:
        list(sdk.messages.create(**ask({"fail_after": 2}), stream=True))
    assert raised.value.body["error"] == {"type": "overloaded_error", "message": "Overloaded"}


def test_sdk_sees_a_rate_limit_with_its_retry_after(sdk):
    with pytest.raises(anthropic.RateLimitError) as raised:
        sdk.messages.create(**ask({"status": 429, "retry_after": "7"}))
    assert raised.value.response.headers["retry-after"] == "7"
    assert raised.value.request_id.startswith("req_")


def test_sdk_sees_an_overload(sdk):
    with pytest.raises(anthropic.OverloadedError):
        sdk.messages.create(**ask({"status": 529}))


def test_sdk_sees_an_unknown_field_refused(sdk):
    with pytest.raises(anthropic.BadRequestError) as raised:
        sdk.messages.create(**ask(), extra_body={"frequency_penalty": 1})
    assert raised.value.body["error"]["message"] == "frequency_penalty: Extra inputs are not permitted"


def test_sdk_sees_a_wrong_key_refused(anthropic_server):
    client = anthropic.Anthropic(base_url=anthropic_server.url, api_key="sk-wrong", max_retries=0)
    with pytest.raises(anthropic.AuthenticationError):
        client.messages.create(**ask())
