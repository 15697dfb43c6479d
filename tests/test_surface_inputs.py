"""The new surfaces' bodies, field by field, through Flask's test client: odd values are answered or
refused (400), never a 500, and lose no money."""
import pytest


ODD_VALUES = [1, -1, 2.5, "x", "", True, [], {}, [1], ["x"], [{}], [[]], {"type": 1}, [{"type": "text"}],
              [{"role": "user"}], [{"role": "user", "content": [{"type": "image"}]}],
              [{"type": "reasoning", "summary": 1}, {"type": "function_call", "call_id": 1}]]


@pytest.mark.parametrize("route, base, fields", [
    ("/v1/messages", {"model": "deepseek-flash", "max_tokens": 10,
                      "messages": [{"role": "user", "content": "hi"}]},
     ["model", "max_tokens", "messages", "system", "tools", "tool_choice", "thinking",
      "stop_sequences", "stream", "temperature"]),
    ("/v1/responses", {"model": "deepseek-flash", "input": "hi"},
     ["model", "input", "instructions", "tools", "tool_choice", "reasoning", "text",
      "max_output_tokens", "stream", "temperature", "top_p"]),
    ("/v1/embeddings", {"model": "deepseek-flash", "input": "hi"},
     ["model", "input", "encoding_format", "dimensions"]),
])
def test_no_odd_field_value_is_a_500(client, bank, upstream, route, base, fields):
    token = bank.key()
    for field in fields:
        for value in ODD_VALUES:
            response = client.post(route, json={**base, field: value},
                                   headers={"X-API-Key": token, "X-AI-Provider": "deepseek"})
            response.get_data()
            response.close()
            assert response.status_code < 500, (field, value, response.get_data(as_text=True))
    bank.assert_consistent()
