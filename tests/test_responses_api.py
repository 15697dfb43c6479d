"""POST /v1/responses and GET /v1/models/{id} with the official `openai` package, through real
gunicorn, translated for an OpenAI-style upstream (`deepseek` at the OpenAI-style fake) and for an
Anthropic-style one (`anthropic` at the fake Anthropic)."""
from types import SimpleNamespace

import openai
import pytest

from fake_upstream import DEFAULT_TEXT, THOUGHT
from helpers import CLAUDE, MODEL, PRICE, anthropic_cost, expected_cost

WEATHER = {"type": "function", "name": "get_weather", "description": "今天的天气",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


@pytest.fixture(params=["deepseek", "anthropic"])
def vendor(request, server, upstream):
    """The provider and model, the fake behind them, the usage it reports (input, cache reads)
    and the charge for `output` tokens."""
    if request.param == "deepseek":
        return SimpleNamespace(provider="deepseek", model=MODEL, fake=upstream, usage=(12, 4),
                               cost=lambda output: expected_cost(completion=output))
    return SimpleNamespace(provider="anthropic", model=CLAUDE, fake=request.getfixturevalue("claude"),
                           usage=(12, 0), cost=lambda output: anthropic_cost(output=output))


def client(server, token, provider="deepseek"):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=token, max_retries=0,
                         default_headers={"X-AI-Provider": provider})


def test_a_response_is_answered_and_charged_exactly(server, bank, vendor):
    account = bank.account("10")
    answer = client(server, bank.key(account), vendor.provider).responses.create(
        model=vendor.model, instructions="简短。", input="你好", store=True)
    assert (answer.object, answer.status, answer.store, answer.model) == (
        "response", "completed", False, vendor.model)
    assert answer.output_text == DEFAULT_TEXT
    assert (answer.usage.input_tokens, answer.usage.input_tokens_details.cached_tokens,
            answer.usage.output_tokens) == (*vendor.usage, 13)
    assert bank.charges(account) == [-vendor.cost(13)]
    bank.assert_consistent()


def test_a_streamed_response_sends_the_documented_events(server, bank, vendor):
    account = bank.account("10")
    with client(server, bank.key(account), vendor.provider).responses.stream(
            model=vendor.model, input="你好") as stream:
        events = list(stream)
        final = stream.get_final_response()
    kinds = [event.type for event in events]
    assert kinds[:4] == ["response.created", "response.in_progress", "response.output_item.added",
                         "response.content_part.added"]
    assert kinds[-1] == "response.completed"
    assert "".join(e.delta for e in events if e.type == "response.output_text.delta") == DEFAULT_TEXT
    assert (final.output_text, final.usage.input_tokens, final.usage.output_tokens) == (
        DEFAULT_TEXT, vendor.usage[0], 13)
    assert bank.charges(account) == [-vendor.cost(13)]
    bank.assert_consistent()


@pytest.mark.parametrize("streamed", [False, True])
def test_a_function_call_round_trip(server, bank, vendor, streamed):
    account = bank.account("10")
    responses = client(server, bank.key(account), vendor.provider).responses

    def ask(given):
        if not streamed:
            return responses.create(model=vendor.model, input=given, tools=[WEATHER])
        with responses.stream(model=vendor.model, input=given, tools=[WEATHER]) as stream:
            return stream.get_final_response()

    question = [{"role": "user", "content": "北京天气如何？"}]
    asked = ask(question)
    [call] = [item for item in asked.output if item.type == "function_call"]
    assert (call.name, call.arguments) == ("get_weather", '{"city": "北京"}')
    answered = ask(question + asked.output + [
        {"type": "function_call_output", "call_id": call.call_id, "output": "晴，25°C"}])
    assert answered.output_text == "工具结果：晴，25°C"
    assert bank.charges(account) == [-vendor.cost(asked.usage.output_tokens),
                                     -vendor.cost(answered.usage.output_tokens)]
    bank.assert_consistent()


def test_instructions_and_a_tool_result_reach_an_openai_style_upstream_as_chat(server, bank, upstream):
    responses = client(server, bank.key()).responses
    responses.create(model=MODEL, instructions="简短。", input=[
        {"role": "user", "content": "北京天气如何？"},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "call_1", "output": "晴"}])
    assert upstream.stats()["bodies"][0]["messages"] == [
        {"role": "system", "content": "简短。"}, {"role": "user", "content": "北京天气如何？"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": "call_1", "type": "function",
                                                               "function": {"name": "get_weather",
                                                                            "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "晴"}]


def test_instructions_and_a_tool_result_reach_claude_in_its_own_shape(server, bank, claude):
    responses = client(server, bank.key(), "anthropic").responses
    responses.create(model=CLAUDE, instructions="简短。", input=[
        {"role": "user", "content": "北京天气如何？"},
        {"type": "function_call", "call_id": "toolu_1", "name": "get_weather", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "toolu_1", "output": "晴"}])
    [sent] = claude.stats()["bodies"]
    assert sent["system"] == [{"type": "text", "text": "简短。"}]
    assert sent["messages"] == [
        {"role": "user", "content": [{"type": "text", "text": "北京天气如何？"}]},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1", "name": "get_weather",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1",
                                      "content": [{"type": "text", "text": "晴"}]}]}]


def test_reasoning_effort_switches_the_vendors_reasoning_and_comes_back_as_a_summary(server, bank, upstream):
    with client(server, bank.key()).responses.stream(
            model=MODEL, input="你好", reasoning={"effort": "high"}) as stream:
        final = stream.get_final_response()
    assert upstream.stats()["bodies"][0]["thinking"] == {"type": "enabled"}
    [reasoning, message] = final.output
    assert reasoning.type == "reasoning" and reasoning.summary[0].text == THOUGHT
    assert message.content[0].text == DEFAULT_TEXT


def test_max_output_tokens_is_sent_as_max_tokens_and_lowered_to_the_models_largest(server, bank, upstream):
    responses = client(server, bank.key()).responses
    responses.create(model=MODEL, input="你好", max_output_tokens=20)
    responses.create(model=MODEL, input="你好", max_output_tokens=10**6)
    assert [body["max_tokens"] for body in upstream.stats()["bodies"]] == [20, PRICE["max_output"]]


def test_previous_response_id_is_refused_by_name(server, bank, upstream):
    account = bank.account("10")
    with pytest.raises(openai.BadRequestError) as refused:
        client(server, bank.key(account)).responses.create(
            model=MODEL, input="再说一遍", previous_response_id="resp_123")
    assert (refused.value.code, refused.value.param) == ("unsupported_parameter", "previous_response_id")
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_a_bad_key_is_an_authentication_error_in_openais_envelope(server):
    with pytest.raises(openai.AuthenticationError) as refused:
        client(server, "sk-qc-" + "x" * 43).responses.create(model=MODEL, input="你好")
    assert refused.value.code == "invalid_api_key"


def test_a_low_balance_is_403(server, bank, upstream):
    account = bank.account("0.001")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(server, bank.key(account)).responses.create(model=MODEL, input="你好")
    assert refused.value.code == "insufficient_balance"
    assert upstream.stats()["requests"] == 0


@pytest.mark.parametrize("given", [[], 42, [{"type": "item_reference", "id": "msg_1"}],
                                   [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]])
def test_input_without_a_chat_equivalent_is_400(server, bank, upstream, given):
    with pytest.raises(openai.BadRequestError) as refused:
        client(server, bank.key()).responses.create(model=MODEL, input=given)
    assert refused.value.param == "input"
    assert upstream.stats()["requests"] == 0


def test_input_of_reasoning_items_alone_is_400_before_anything_is_held(server, bank, upstream):
    account = bank.account("10")
    with pytest.raises(openai.BadRequestError) as refused:
        client(server, bank.key(account)).responses.create(
            model=MODEL, input=[{"type": "reasoning", "summary": []}])
    assert refused.value.param == "input" and "reasoning items alone" in refused.value.message
    assert upstream.stats()["requests"] == 0
    assert bank.balance(account) == 10_000_000 and bank.requests(account) == []


# --- GET /v1/models/{id} ------------------------------------------------------------------------

@pytest.mark.parametrize("name", [MODEL, f"deepseek/{MODEL}"])
def test_a_model_is_retrieved_by_its_name(server, bank, name):
    model = client(server, bank.key()).models.retrieve(name)
    assert (model.id, model.object, model.owned_by) == (name, "model", "deepseek")


def test_an_unknown_model_is_404_model_not_found(server, bank):
    with pytest.raises(openai.NotFoundError) as missing:
        client(server, bank.key()).models.retrieve("gpt-unknown")
    assert missing.value.code == "model_not_found"
