"""The API fuzzed from its own /openapi.json (schemathesis): requests generated for every route,
bodies that fit the document and bodies that break it, sent with a key of ample balance to real
gunicorn in front of the fake upstreams. No answer may be a 5xx; every error is the route's
envelope in JSON; every answer is what the document says (status, content type, headers, schema).
Derandomized, so that CI sends the same requests each run."""
import json

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings, strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks

from helpers import CLAUDE, MODEL, sse_data
from models import Price

pytestmark = pytest.mark.slow
CASES_PER_MODE = 25  # per route and mode (fitting, breaking): about 400 requests in all
OPERATIONS = [("POST", "/v1/chat/completions"), ("POST", "/v1/embeddings"), ("POST", "/v1/messages"),
              ("POST", "/v1/messages/count_tokens"), ("POST", "/v1/responses"), ("GET", "/v1/models"),
              ("GET", "/v1/models/{model_id}"), ("GET", "/v1/balance"), ("GET", "/healthz"),
              ("GET", "/readyz")]
# Every route with bodies that fit the document and bodies that break it (the probes take nothing
# that could be broken).
RUNS = [(mode, method, path) for mode in GenerationMode for method, path in OPERATIONS
        if mode == GenerationMode.POSITIVE or path not in ("/healthz", "/readyz")]
EMBEDDING = ("qwen", "text-embedding-v4")
# Where a generated request may be aimed, so that it reaches an upstream: a priced model and its
# provider (a random model name is mostly a 400 `model_not_found`). None leaves it as generated.
TARGETS = {"/v1/embeddings": [EMBEDDING, None]}
CHAT_TARGETS = [("deepseek", MODEL), ("anthropic", CLAUDE), None]
CONFORMANCE = [checks.status_code_conformance, checks.content_type_conformance,
               checks.response_headers_conformance, checks.response_schema_conformance]


@pytest.fixture
def key(server, claude, bank):
    """A key of ample balance, with DeepSeek's model, Claude (`claude`) and an embedding model priced."""
    Price.set(*EMBEDDING, input=500_000, cached_input=0, output=0, max_output=1)
    return bank.key(bank.account("1000000"))


@pytest.mark.parametrize("mode, method, path", RUNS, ids=[f"{m.value} {o} {p}" for m, o, p in RUNS])
def test_generated_requests_get_no_5xx_and_errors_in_the_envelope(server, key, mode, method, path):
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    operation = schema[path][method]
    session = requests.Session()

    @settings(max_examples=CASES_PER_MODE, derandomize=True, deadline=None, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(mode), target=st.sampled_from(TARGETS.get(path, CHAT_TARGETS)))
    def send(case, target):
        if target and isinstance(case.body, dict) and "model" in case.body:
            aim(case, *target)
        response = case.call(base_url=server.url, session=session, headers={"X-API-Key": key},
                             timeout=30)
        assert response.status_code < 500, described(case, response)
        if response.status_code >= 400:
            assert_error_envelope(path, response)
        elif "event-stream" in content_type(response):
            assert not any(map(is_error_event, sse_data(response.text))), described(case, response)
        case.validate_response(response, checks=CONFORMANCE)

    send()
    assert "Traceback" not in server.log_text()  # nothing failed inside, even after answering


def aim(case, provider, model):
    case.body["model"] = model
    case.headers = {**(case.headers or {}), "X-AI-Provider": provider}


def assert_error_envelope(path, response):
    assert content_type(response) == "application/json", response.text
    body = response.json()
    if path.startswith("/v1/messages"):
        assert body["type"] == "error" and isinstance(body["error"]["message"], str), body
    else:
        error = body["error"]
        assert {"message", "type", "param", "code"} <= set(error), body
        assert isinstance(error["message"], str) and isinstance(error["code"], str), body


def is_error_event(data):
    """An SSE event that ends a stream in failure, in any of the surfaces' shapes."""
    event = json.loads(data) if data.startswith("{") else None
    return isinstance(event, dict) and (event.get("type") in ("error", "response.failed")
                                        or isinstance(event.get("error"), dict))


def content_type(response):
    return response.headers.get("content-type", [""])[0]


def described(case, response):
    return (f"{case.method} {case.path} {case.headers} {case.body!r:.2000}"
            f" -> {response.status_code} {response.text[:2000]}")
