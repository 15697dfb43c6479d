"""GET /openapi.json: a valid OpenAPI 3.1 document of every API route, aimed at the server's own
URL, with the constraints the parsers enforce and every error status of the registry; linked from
the documentation page in both languages. tests/test_openapi_fuzz.py sends what it generates."""
import pytest
from openapi_spec_validator import OpenAPIV31SpecValidator

import errors
from pages import page


@pytest.fixture
def spec(client):
    response = client.get("/openapi.json", base_url="https://gateway.example:8443")
    assert response.status_code == 200 and response.mimetype == "application/json"
    return response.get_json()


def test_the_document_is_valid_openapi_3_1(spec):
    assert spec["openapi"].startswith("3.1")
    OpenAPIV31SpecValidator(spec).validate()


def test_its_server_is_the_requests_own_base_url(spec):
    assert spec["servers"] == [{"url": "https://gateway.example:8443"}]


def test_every_api_route_and_probe_the_app_serves_is_described_with_its_methods(app, spec):
    served = {}
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith("/v1/") or rule.rule in ("/healthz", "/readyz"):
            path = rule.rule.replace("<path:model_id>", "{model_id}")
            served.setdefault(path, set()).update(m.lower() for m in rule.methods - {"HEAD", "OPTIONS"})
    described = {path: set(operations) for path, operations in spec["paths"].items()}
    assert described == served


def test_the_key_goes_in_x_api_key_or_as_a_bearer_token(spec):
    assert spec["components"]["securitySchemes"] == {
        "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
        "bearer": {"type": "http", "scheme": "bearer"}}
    chat = spec["paths"]["/v1/chat/completions"]["post"]
    assert chat["security"] == [{"apiKey": []}, {"bearer": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []


def test_the_chat_body_has_the_parsers_constraints_and_allows_other_fields(spec):
    schema = spec["components"]["schemas"]["ChatCompletionRequest"]
    assert schema["required"] == ["model", "messages"] and schema["additionalProperties"] is True
    fields = schema["properties"]
    assert (fields["temperature"]["minimum"], fields["temperature"]["maximum"]) == (0, 2)
    assert fields["max_tokens"]["type"] == ["integer", "null"] and fields["max_tokens"]["minimum"] == 1
    assert fields["stream"]["type"] == ["boolean", "null"]
    assert fields["messages"]["minItems"] == 1


def test_a_chat_answer_is_json_or_an_event_stream(spec):
    answer = spec["paths"]["/v1/chat/completions"]["post"]["responses"]["200"]["content"]
    assert set(answer) == {"application/json", "text/event-stream"}


def test_every_error_status_of_the_registry_is_an_openai_envelope_naming_its_codes(spec):
    described = spec["components"]["responses"]
    for status, code, _ in errors.CODES:
        response = described[f"Error{status}"]
        assert code in response["description"]
        assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}
    envelope = spec["components"]["schemas"]["Error"]["properties"]["error"]
    assert envelope["required"] == ["message", "type", "param", "code"]


def test_a_relayed_route_lists_its_error_statuses_and_429_carries_retry_after(spec):
    responses = spec["paths"]["/v1/chat/completions"]["post"]["responses"]
    assert {"400", "401", "403", "413", "429", "500", "502", "503", "504", "4XX"} <= set(responses)
    assert "Retry-After" in spec["components"]["responses"]["Error429"]["headers"]


def test_the_messages_route_answers_errors_in_anthropics_envelope(spec):
    responses = spec["paths"]["/v1/messages"]["post"]["responses"]
    assert responses["401"] == {"$ref": "#/components/responses/AnthropicError401"}


def test_the_provider_header_is_a_parameter_of_every_relayed_route(spec):
    for path in ("/v1/chat/completions", "/v1/embeddings", "/v1/messages", "/v1/responses"):
        names = [p.get("$ref") for p in spec["paths"][path]["post"]["parameters"]]
        assert "#/components/parameters/Provider" in names
    assert spec["components"]["parameters"]["Provider"]["name"] == "X-AI-Provider"


@pytest.mark.parametrize("lang, words", [("zh", "机器可读的接口描述"), ("en", "machine-readable description")])
def test_the_docs_page_links_to_the_document_in_both_languages(client, lang, words):
    html = page(client, f"/?lang={lang}")
    assert words in html
    assert '<a href="/openapi.json"><code>http://localhost/openapi.json</code></a>' in html
