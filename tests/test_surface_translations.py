"""The translations of surfaces/ as pure functions, on recorded payloads: Anthropic's Messages and
OpenAI's Responses to and from Chat Completions, and Anthropic's native stream usage."""
import json

import pytest

from errors import ApiError
from helpers import sse_json
from providers.anthropic_wire import NativeMessages
from providers.base import StreamEvent, Usage
from providers.deepseek import provider as deepseek
from surfaces import messages, responses

USAGE = Usage(prompt=12, cached=4, completion=5)


def chunk(delta=None, finish=None, usage=None, choices=True):
    data = {"id": "chatcmpl-1", "object": "chat.completion.chunk", "model": "deepseek-flash",
            "choices": [{"index": 0, "delta": delta or {}, "finish_reason": finish}] if choices else [],
            "usage": usage}
    return StreamEvent(b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n",
                       usage=USAGE if usage else None, content=bool(delta))


DONE = StreamEvent(b"data: [DONE]\n\n", done=True)
TOOL_CHUNKS = [
    chunk({"role": "assistant", "content": ""}),
    chunk({"reasoning_content": "想"}),
    chunk({"content": "查一下。"}),
    chunk({"tool_calls": [{"index": 0, "id": "call_1", "type": "function",
                           "function": {"name": "get_weather", "arguments": ""}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"北京"}'}}]}),
    chunk({}, finish="tool_calls"),
    chunk(usage={"prompt_tokens": 12, "completion_tokens": 5, "prompt_cache_hit_tokens": 4,
                 "completion_tokens_details": {"reasoning_tokens": 1}}, choices=False),
    DONE,
]
WHOLE = json.dumps({
    "id": "chatcmpl-1", "object": "chat.completion", "model": "deepseek-flash",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "查一下。", "reasoning_content": "想",
        "tool_calls": [{"id": "call_1", "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}]}}],
    "usage": {"prompt_tokens": 12, "completion_tokens": 5, "prompt_cache_hit_tokens": 4}},
    ensure_ascii=False).encode()


def relayed(events):
    return b"".join(event.raw for event in events if event.raw).decode()


# --- Anthropic's Messages → chat --------------------------------------------------------------

def test_messages_request_becomes_a_chat_request_with_system_images_tools_and_results():
    body = {"model": "deepseek-flash", "max_tokens": 100, "stream": True, "temperature": 0.5,
            "stop_sequences": ["END"], "system": [{"type": "text", "text": "简短。"}],
            "tools": [{"name": "get_weather", "description": "天气", "input_schema": {
                "type": "object", "properties": {"city": {"type": "string"}}}}],
            "tool_choice": {"type": "any", "disable_parallel_tool_use": True},
            "messages": [
                {"role": "user", "content": [
                    {"type": "text", "text": "看图"},
                    {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBOR"}}]},
                {"role": "assistant", "content": [
                    {"type": "thinking", "thinking": "想", "signature": "sig"},
                    {"type": "text", "text": "查一下。"},
                    {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "北京"}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "toolu_1", "content": [{"type": "text", "text": "晴"}]},
                    {"type": "text", "text": "然后呢？"}]}]}
    chat = messages.chat_body(body, deepseek.reasoning)
    assert chat == {
        "model": "deepseek-flash", "max_tokens": 100, "stream": True, "temperature": 0.5,
        "stop": ["END"], "tool_choice": "required", "parallel_tool_calls": False,
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "天气",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}],
        "messages": [
            {"role": "system", "content": "简短。"},
            {"role": "user", "content": [
                {"type": "text", "text": "看图"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBOR"}}]},
            {"role": "assistant", "content": "查一下。", "reasoning_content": "想", "tool_calls": [
                {"id": "toolu_1", "type": "function",
                 "function": {"name": "get_weather", "arguments": '{"city": "北京"}'}}]},
            {"role": "tool", "tool_call_id": "toolu_1", "content": "晴"},
            {"role": "user", "content": "然后呢？"}]}


@pytest.mark.parametrize("thinking, fields", [
    ({"type": "enabled", "budget_tokens": 2048}, {"thinking": {"type": "enabled"}}),
    ({"type": "disabled"}, {"thinking": {"type": "disabled"}}),
])
def test_thinking_becomes_the_vendors_reasoning_switch(thinking, fields):
    body = {"model": "m", "max_tokens": 10, "thinking": thinking,
            "messages": [{"role": "user", "content": "hi"}]}
    chat = messages.chat_body(body, deepseek.reasoning)
    assert {name: chat[name] for name in fields} == fields


def test_a_budget_reaches_a_vendor_whose_switch_takes_one():
    from providers.openai_style import OpenAIStyle
    qwen_like = OpenAIStyle(name="q", default_base_url="http://q", thinking="enable_thinking")
    body = {"model": "m", "max_tokens": 10, "thinking": {"type": "enabled", "budget_tokens": 2048},
            "messages": [{"role": "user", "content": "hi"}]}
    chat = messages.chat_body(body, qwen_like.reasoning)
    assert (chat["enable_thinking"], chat["thinking_budget"]) == (True, 2048)


@pytest.mark.parametrize("content, param", [
    ([{"type": "document", "source": {}}], "messages"),
    ([{"type": "image", "source": {"type": "file", "file_id": "f"}}], "messages"),
    ([{"text": "no type"}], "messages"),
])
def test_a_block_without_a_chat_equivalent_is_400_naming_it(content, param):
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": content}]}
    with pytest.raises(ApiError) as refused:
        messages.chat_body(body, deepseek.reasoning)
    assert (refused.value.status, refused.value.param) == (400, param)
    assert "messages[0].content[0]" in refused.value.message


def test_an_anthropic_server_tool_is_refused():
    body = {"model": "m", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}],
            "tools": [{"type": "web_search_20250305", "name": "web_search"}]}
    with pytest.raises(ApiError) as refused:
        messages.chat_body(body, deepseek.reasoning)
    assert refused.value.param == "tools"


# --- chat → Anthropic's Messages --------------------------------------------------------------

def test_a_whole_chat_answer_becomes_an_anthropic_message():
    message = json.loads(messages.message(WHOLE, USAGE, "deepseek-flash"))
    assert message == {
        "id": "msg_chatcmpl-1", "type": "message", "role": "assistant", "model": "deepseek-flash",
        "content": [{"type": "thinking", "thinking": "想", "signature": ""},
                    {"type": "text", "text": "查一下。"},
                    {"type": "tool_use", "id": "call_1", "name": "get_weather", "input": {"city": "北京"}}],
        "stop_reason": "tool_use", "stop_sequence": None,
        "usage": {"input_tokens": 8, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 4,
                  "output_tokens": 5}}


def test_chat_chunks_become_anthropic_events_block_by_block():
    events = list(messages.MessageStream("deepseek-flash").events(iter(TOOL_CHUNKS)))
    text = relayed(events)
    names = [line[len("event: "):] for line in text.split("\n") if line.startswith("event: ")]
    assert names == ["message_start",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_stop",
                     "content_block_start", "content_block_delta", "content_block_delta",
                     "content_block_stop", "message_delta", "message_stop"]
    data = sse_json(text)
    assert [d["content_block"]["type"] for d in data if d["type"] == "content_block_start"] == [
        "thinking", "text", "tool_use"]
    assert "".join(d["delta"].get("partial_json", "") for d in data
                   if d["type"] == "content_block_delta") == '{"city": "北京"}'
    assert data[-2]["delta"]["stop_reason"] == "tool_use"
    assert data[-2]["usage"] == {"input_tokens": 8, "cache_creation_input_tokens": 0,
                                 "cache_read_input_tokens": 4, "output_tokens": 5}
    assert events[-1].done and not any(event.done for event in events[:-1])


def test_a_keep_alive_passes_and_usage_rides_along():
    keepalive = StreamEvent(b": keep-alive\n\n")
    events = list(messages.MessageStream("m").events(iter([keepalive] + TOOL_CHUNKS)))
    assert events[0].raw == b": keep-alive\n\n"
    assert [e.usage for e in events if e.usage] == [USAGE]  # from the usage-only chunk, kept back


# --- OpenAI's Responses → chat ----------------------------------------------------------------

RESPONSES_REQUEST = {
    "model": "deepseek-flash", "instructions": "简短。", "max_output_tokens": 64, "stream": True,
    "tools": [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}],
    "tool_choice": {"type": "function", "name": "get_weather"},
    "text": {"format": {"type": "json_schema", "name": "w", "schema": {"type": "object"}}},
    "input": [
        {"role": "user", "content": [{"type": "input_text", "text": "天气？"},
                                     {"type": "input_image", "image_url": "https://x/a.png"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "想"}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "晴"},
        {"role": "developer", "content": "用中文"}],
}


def test_a_responses_request_becomes_a_chat_request():
    assert responses.chat_body(RESPONSES_REQUEST) == {
        "model": "deepseek-flash", "max_tokens": 64, "stream": True,
        "tools": [{"type": "function", "function": {"name": "get_weather", "parameters": {"type": "object"}}}],
        "tool_choice": {"type": "function", "function": {"name": "get_weather"}},
        "response_format": {"type": "json_schema", "json_schema": {"name": "w", "schema": {"type": "object"}}},
        "messages": [
            {"role": "system", "content": "简短。"},
            {"role": "user", "content": [{"type": "text", "text": "天气？"},
                                         {"type": "image_url", "image_url": {"url": "https://x/a.png"}}]},
            {"role": "assistant", "content": None, "reasoning_content": "想", "tool_calls": [
                {"id": "call_1", "type": "function", "function": {"name": "get_weather", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "晴"},
            {"role": "system", "content": "用中文"}]}


@pytest.mark.parametrize("field", ["previous_response_id", "conversation"])
def test_stateful_fields_are_refused_by_name(field):
    raw = json.dumps({"model": "m", "input": "hi", field: "resp_123"}).encode()
    with pytest.raises(ApiError) as refused:
        responses.parse(raw)
    assert (refused.value.status, refused.value.code, refused.value.param) == (
        400, "unsupported_parameter", field)
    assert field in refused.value.message


def test_reasoning_effort_becomes_the_vendors_switch():
    assert responses.reasoning({"reasoning": {"effort": "high"}}, deepseek.reasoning) == {
        "thinking": {"type": "enabled"}}
    assert responses.reasoning({"reasoning": {"effort": "minimal"}}, deepseek.reasoning) == {
        "thinking": {"type": "disabled"}}
    assert responses.reasoning({}, deepseek.reasoning) == {}


# --- chat → OpenAI's Responses ----------------------------------------------------------------

def test_a_whole_chat_answer_becomes_a_response():
    base = responses.skeleton({"model": "deepseek-flash", "input": "hi"}, "deepseek-flash")
    answer = json.loads(responses.response(WHOLE, USAGE, base))
    assert (answer["object"], answer["status"], answer["id"]) == ("response", "completed", base["id"])
    assert [item["type"] for item in answer["output"]] == ["reasoning", "message", "function_call"]
    assert answer["output"][1]["content"][0]["text"] == "查一下。"
    assert {k: answer["output"][2][k] for k in ("call_id", "name", "arguments")} == {
        "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "北京"}'}
    assert answer["usage"] == {"input_tokens": 12, "input_tokens_details": {"cached_tokens": 4},
                               "output_tokens": 5, "output_tokens_details": {"reasoning_tokens": 0},
                               "total_tokens": 17}


def test_chat_chunks_become_the_documented_response_events():
    base = responses.skeleton({"model": "deepseek-flash", "input": "hi"}, "deepseek-flash")
    data = sse_json(relayed(responses.ResponseStream(base).events(iter(TOOL_CHUNKS))))
    assert [d["type"] for d in data] == [
        "response.created", "response.in_progress",
        "response.output_item.added", "response.reasoning_summary_part.added",
        "response.reasoning_summary_text.delta", "response.reasoning_summary_text.done",
        "response.reasoning_summary_part.done", "response.output_item.done",
        "response.output_item.added", "response.content_part.added", "response.output_text.delta",
        "response.output_text.done", "response.content_part.done", "response.output_item.done",
        "response.output_item.added", "response.function_call_arguments.delta",
        "response.function_call_arguments.delta", "response.function_call_arguments.done",
        "response.output_item.done", "response.completed"]
    assert [d["sequence_number"] for d in data] == list(range(len(data)))
    completed = data[-1]["response"]
    assert completed["usage"]["output_tokens_details"] == {"reasoning_tokens": 1}
    assert [item["type"] for item in completed["output"]] == ["reasoning", "message", "function_call"]


def test_a_cut_off_answer_is_an_incomplete_response():
    base = responses.skeleton({"model": "m", "input": "hi"}, "m")
    events = [chunk({"content": "半"}), chunk({}, finish="length"), DONE]
    data = sse_json(relayed(responses.ResponseStream(base).events(iter(events))))
    assert data[-1]["type"] == "response.incomplete"
    assert data[-1]["response"]["incomplete_details"] == {"reason": "max_output_tokens"}


# --- Anthropic's own stream, relayed natively ---------------------------------------------------

def test_a_native_stream_is_relayed_as_it_came_with_usage_summed_from_its_pieces():
    stream = (b'event: message_start\ndata: {"type":"message_start","message":{"usage":'
              b'{"input_tokens":8,"cache_read_input_tokens":4,"output_tokens":1}}}\n\n'
              b'event: content_block_delta\ndata: {"type":"content_block_delta","index":0,'
              b'"delta":{"type":"text_delta","text":"hi"}}\n\n'
              b'event: message_delta\ndata: {"type":"message_delta","usage":{"output_tokens":7}}\n\n'
              b'event: message_stop\ndata: {"type":"message_stop"}\n\n')
    events = list(NativeMessages("anthropic", "2023-06-01").events([stream[:50], stream[50:]], False))
    assert b"".join(e.raw for e in events) == stream
    assert [e.content for e in events] == [False, True, False, False]
    assert events[-1].done and events[-1].usage == Usage(prompt=12, cached=4, completion=7)


def test_an_error_event_in_a_native_stream_fails_it_with_its_types_status():
    stream = (b'event: error\ndata: {"type":"error","error":{"type":"rate_limit_error",'
              b'"message":"slow down"}}\n\n')
    with pytest.raises(ApiError) as failed:
        list(NativeMessages("anthropic").events([stream], False))
    assert (failed.value.status, failed.value.code) == (429, "upstream_rate_limited")


def test_a_response_stream_failing_part_way_ends_with_error_and_response_failed():
    stream = responses.ResponseStream(responses.skeleton({"model": "m", "input": "hi"}, "m"))
    started = relayed(stream.events(iter([chunk({"content": "半"})])))
    ended = stream.failed(ApiError(502, "upstream_error", "The upstream broke."))
    data = sse_json(started + ended.decode())
    assert [d["type"] for d in data][-2:] == ["error", "response.failed"]
    assert data[-2]["code"] == "upstream_error" and data[-2]["message"] == "The upstream broke."
    assert data[-1]["response"]["status"] == "failed"
    assert [d["sequence_number"] for d in data] == list(range(len(data)))

