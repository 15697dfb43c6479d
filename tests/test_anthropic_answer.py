"""Anthropic's answers, streams and errors translated back into OpenAI's shape, on recorded
payloads, without a network."""
import json

import pytest

from errors import ApiError
from providers.anthropic import provider
from providers.base import Usage


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

