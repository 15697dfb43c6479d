"""Claude under real gunicorn, with the official `openai` package as the client: it must not be
able to tell that Claude answered, except by the model name."""
import json

import openai
import pytest
import requests

from helpers import (CLAUDE, anthropic_cost, claude_chat, headers, sse_data, sse_json,
                     wait_until_settled)

WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}}
CACHE_USAGE = {"input_tokens": 10, "cache_read_input_tokens": 700, "cache_creation_input_tokens": 90}


@pytest.fixture
def client(claude_server, bank):
    return openai.OpenAI(base_url=claude_server.url + "/v1", api_key=bank.key(), max_retries=0)


def messages(content="你好", fake=None):
    return claude_chat(content, fake)["messages"]


def test_the_openai_package_reads_a_claude_answer_with_nothing_unknown(client):
    answer = client.chat.completions.create(model=CLAUDE, messages=messages())
    assert answer.model == CLAUDE
    assert answer.object == "chat.completion" and answer.id.startswith("chatcmpl-")
    assert answer.choices[0].message.content == "你好，世界！Hello 🌍"
    assert answer.choices[0].finish_reason == "stop"
    assert answer.model_extra == answer.choices[0].model_extra == {}
    assert answer.choices[0].message.model_extra == answer.usage.model_extra == {}


def test_the_openai_package_streams_a_claude_answer_with_nothing_unknown(client):
    chunks = list(client.chat.completions.create(model=CLAUDE, messages=messages(), stream=True,
                                                 stream_options={"include_usage": True}))
    assert {chunk.object for chunk in chunks} == {"chat.completion.chunk"}
    assert all(chunk.model_extra == {} for chunk in chunks)
    assert all(choice.delta.model_extra == {} for chunk in chunks for choice in chunk.choices)
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "你好，世界！Hello 🌍"
    assert (chunks[-1].choices, chunks[-1].usage.completion_tokens) == ([], 13)


def test_the_openai_package_reads_cache_usage(client):
    answer = client.chat.completions.create(model=CLAUDE, messages=messages(fake={"usage": CACHE_USAGE}))
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (800, 13)
    assert answer.usage.prompt_tokens_details.cached_tokens == 700
    assert answer.usage.prompt_tokens_details.cache_write_tokens == 90


def test_the_openai_package_gets_tool_calls(client):
    fake = {"reply": [{"type": "tool_use", "name": "get_weather", "input": {"city": "成都"}}]}
    answer = client.chat.completions.create(model=CLAUDE, messages=messages("成都天气？", fake),
                                            tools=[WEATHER_TOOL])
    [call] = answer.choices[0].message.tool_calls
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "成都"})
    assert answer.choices[0].finish_reason == "tool_calls"


def test_the_openai_stream_helpers_assemble_tool_calls_from_the_deltas(client):
    fake = {"reply": [{"type": "text", "text": "我查一下。"},
                      {"type": "tool_use", "name": "get_weather", "input": {"city": "成都"}},
                      {"type": "tool_use", "name": "get_weather", "input": {"city": "重庆市渝中区"}}]}
    with client.chat.completions.stream(model=CLAUDE, messages=messages("两地天气？", fake),
                                        tools=[WEATHER_TOOL]) as stream:
        done = [event.arguments for event in stream if event.type == "tool_calls.function.arguments.done"]
        answer = stream.get_final_completion()
    message = answer.choices[0].message
    assert message.content == "我查一下。"
    assert [json.loads(call.function.arguments) for call in message.tool_calls] == [
        {"city": "成都"}, {"city": "重庆市渝中区"}]
    assert [json.loads(arguments) for arguments in done] == [{"city": "成都"}, {"city": "重庆市渝中区"}]
    assert answer.choices[0].finish_reason == "tool_calls"


def test_the_openai_package_sees_an_error_mid_stream(client):
    stream = client.chat.completions.create(model=CLAUDE, messages=messages(fake={"fail_after": 2}),
                                            stream=True)
    received = []
    with pytest.raises(openai.APIError) as raised:
        for chunk in stream:
            received.append(chunk.choices[0].delta.content or "")
    assert "".join(received) == "你好"
    assert raised.value.code == "upstream_error"


@pytest.mark.parametrize("fake, error, status", [
    ({"status": 529}, openai.InternalServerError, 502),
    ({"status": 429, "retry_after": "2"}, openai.RateLimitError, 429),
    ({"status": 400, "message": "messages: roles must alternate"}, openai.BadRequestError, 400),
])
def test_the_openai_package_sees_anthropic_errors_as_the_gateways(client, fake, error, status):
    with pytest.raises(error) as raised:
        client.chat.completions.create(model=CLAUDE, messages=messages(fake=fake))
    assert raised.value.status_code == status
    assert raised.value.request_id.startswith("req_")


def test_a_stream_with_cache_usage_is_charged_exactly(claude_server, bank):
    account = bank.account("10")
    response = requests.post(claude_server.url + "/v1/chat/completions", timeout=10,
                             json=claude_chat(stream=True, fake={"usage": CACHE_USAGE}),
                             headers=headers(bank.key(account), "anthropic"))
    assert sse_data(response.text)[-1] == "[DONE]"
    assert bank.charges(account) == [-anthropic_cost(input_tokens=10, cache_read=700, cache_write=90, output=13)]
    bank.assert_consistent()


def test_an_abandoned_claude_stream_closes_anthropic_and_charges_what_was_relayed(claude_server, bank, claude):
    account = bank.account("10")
    body = claude_chat(stream=True, fake={"reply": [{"type": "text", "text": "长" * 200}], "interval": 0.02})
    with requests.post(claude_server.url + "/v1/chat/completions", json=body, stream=True, timeout=10,
                       headers=headers(bank.key(account), "anthropic")) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(10)]  # 5 events: role chunk + 4 content chunks
    assert [json.loads(line[6:])["object"] for line in received if line] == ["chat.completion.chunk"] * 5
    stats = claude.wait_for(lambda s: s["closed_by_client"] == 1 and s["open_streams"] == 0)
    assert (stats["closed_by_client"], stats["completed_streams"]) == (1, 0)
    row = wait_until_settled(account)
    assert (row.state, row.status, row.usage_estimated) == ("settled", 499, True)
    assert 4 <= row.completion_tokens <= 12
    assert bank.charges(account) == [-row.cost] and row.cost < row.hold
    bank.assert_consistent()


def test_the_same_question_looks_alike_from_deepseek_and_claude(claude_server, bank, upstream):
    """Field by field, an answer and a stream have OpenAI's shape whoever served them."""
    token = bank.key()
    shapes = []
    for provider, model in (("deepseek", "deepseek-flash"), ("anthropic", CLAUDE)):
        body = {"model": model, "messages": [{"role": "user", "content": "你好"}]}
        url = claude_server.url + "/v1/chat/completions"
        answer = requests.post(url, json=body, headers=headers(token, provider), timeout=10).json()
        stream = requests.post(url, json={**body, "stream": True}, headers=headers(token, provider),
                               timeout=10).text
        shapes.append((set(answer) - {"system_fingerprint"}, set(answer["choices"][0]),
                       set(answer["choices"][0]["message"]),
                       {key for chunk in sse_json(stream) for key in chunk} - {"usage", "system_fingerprint"}))
    assert shapes[0] == shapes[1]
