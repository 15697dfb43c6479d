"""POST /v1/embeddings with the official `openai` package, against the fake upstream's /embeddings,
through a provider defined here (an OpenAI-style vendor that sells embeddings)."""
import base64
import os
import struct
import subprocess
import sys

import openai
import pytest
import requests

from helpers import MODEL, UPSTREAM_KEY, AppServer, headers, page_examples
from web import docs
from models import Price
from providers import PROVIDERS
from providers.base import Upstream
from providers.openai_style import OpenAIStyle

EMBEDDER = OpenAIStyle(name="embedder", default_base_url="http://embedder.invalid/v1", embeddings=True)
EMBEDDING_MODEL = "text-embedding-v4"
INPUT_PRICE = 2_000_000  # 2 元 per million tokens, nothing else
VECTOR = [0.125, -0.5, 0.25]  # the fake's first vector, exact in float32


@pytest.fixture
def embeddings_server(app, upstream, monkeypatch):
    monkeypatch.setitem(PROVIDERS, "embedder", EMBEDDER)
    app.config["UPSTREAMS"] = {**app.config["UPSTREAMS"],
                               "embedder": Upstream(EMBEDDER, upstream.url, UPSTREAM_KEY)}
    Price.create(provider="embedder", model=EMBEDDING_MODEL, input=INPUT_PRICE, cached_input=0,
                 output=0, max_output=8192)
    running = AppServer(app)
    yield running
    running.stop()


@pytest.fixture
def client_app(client, monkeypatch):
    """The app in Flask's test client, with the provider defined here."""
    monkeypatch.setitem(PROVIDERS, "embedder", EMBEDDER)
    return client


def client(server, token, provider="embedder"):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=token, max_retries=0,
                         default_headers={"X-AI-Provider": provider})


def cost(tokens):
    return -(-tokens * INPUT_PRICE // 1_000_000)


def test_float_embeddings_are_answered_and_charged_at_the_input_price(embeddings_server, bank, upstream):
    account = bank.account("10")
    answer = client(embeddings_server, bank.key(account)).embeddings.create(
        model=EMBEDDING_MODEL, input="你好，世界", encoding_format="float")
    assert answer.data[0].embedding == VECTOR
    assert answer.usage.prompt_tokens == 5
    assert bank.charges(account) == [-cost(5)]
    [row] = bank.requests(account)
    assert (row.state, row.prompt_tokens, row.completion_tokens, row.usage_estimated) == (
        "settled", 5, 0, False)
    assert upstream.stats()["bodies"][0]["model"] == EMBEDDING_MODEL
    bank.assert_consistent()


def test_base64_embeddings_pass_through_untouched(embeddings_server, bank, upstream):
    """The openai package asks for base64 by default and decodes it itself."""
    answer = client(embeddings_server, bank.key()).embeddings.create(model=EMBEDDING_MODEL, input="hi")
    assert upstream.stats()["bodies"][0]["encoding_format"] == "base64"
    assert answer.data[0].embedding == VECTOR
    raw = requests.post(embeddings_server.url + "/v1/embeddings", headers=headers(bank.key(), "embedder"),
                        json={"model": EMBEDDING_MODEL, "input": "hi", "encoding_format": "base64"})
    assert raw.json()["data"][0]["embedding"] == base64.b64encode(struct.pack("<3f", *VECTOR)).decode()


def test_a_batch_gets_one_vector_per_input_and_one_charge(embeddings_server, bank):
    account = bank.account("10")
    answer = client(embeddings_server, bank.key(account)).embeddings.create(
        model=EMBEDDING_MODEL, input=["春", "夏天", "秋天来"], encoding_format="float")
    assert [item.index for item in answer.data] == [0, 1, 2]
    assert answer.data[1].embedding == [0.25, -0.5, 0.25]
    assert bank.charges(account) == [-cost(6)]


def test_token_arrays_and_dimensions_go_upstream_as_sent(embeddings_server, bank, upstream):
    answer = client(embeddings_server, bank.key()).embeddings.create(
        model=EMBEDDING_MODEL, input=[[101, 102], [103]], dimensions=2, encoding_format="float")
    assert [item.embedding for item in answer.data] == [[0.125, -0.5], [0.25, -0.5]]
    sent = upstream.stats()["bodies"][0]
    assert (sent["input"], sent["dimensions"]) == ([[101, 102], [103]], 2)


def test_a_provider_without_embeddings_is_model_not_found_and_costs_nothing(embeddings_server, bank, upstream):
    account = bank.account("10")
    with pytest.raises(openai.BadRequestError) as refused:
        client(embeddings_server, bank.key(account), provider="deepseek").embeddings.create(
            model=MODEL, input="hi")
    assert refused.value.code == "model_not_found"
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_a_key_limit_applies_to_embeddings(embeddings_server, bank):
    account = bank.account("10")
    embed = client(embeddings_server, bank.key(account, rpm=1)).embeddings
    embed.create(model=EMBEDDING_MODEL, input="hi")
    with pytest.raises(openai.RateLimitError):
        embed.create(model=EMBEDDING_MODEL, input="hi")
    assert len(bank.charges(account)) == 1
    bank.assert_consistent()


def test_the_hold_is_the_inputs_bound_and_a_short_balance_is_403(embeddings_server, bank, upstream):
    account = bank.account("0.000010")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        client(embeddings_server, bank.key(account)).embeddings.create(
            model=EMBEDDING_MODEL, input="x" * 100)
    assert refused.value.code == "insufficient_balance"
    assert upstream.stats()["requests"] == 0 and bank.balance(account) == 10


def test_missing_usage_is_estimated_from_the_input(embeddings_server, bank):
    account = bank.account("10")
    client(embeddings_server, bank.key(account)).embeddings.create(
        model=EMBEDDING_MODEL, input="abcdef", extra_body={"fake": {"usage": None}})
    [row] = bank.requests(account)
    assert row.usage_estimated and 0 < row.cost <= row.hold
    bank.assert_consistent()


def test_an_upstream_refusal_of_the_request_is_passed_on(embeddings_server, bank):
    account = bank.account("10")
    with pytest.raises(openai.BadRequestError) as refused:
        client(embeddings_server, bank.key(account)).embeddings.create(
            model=EMBEDDING_MODEL, input="hi",
            extra_body={"fake": {"status": 400, "message": "input too long"}})
    assert refused.value.message.endswith("input too long")
    assert bank.charges(account) == [] and bank.balance(account) == 10_000_000


@pytest.mark.parametrize("body, param", [
    ({"model": EMBEDDING_MODEL}, "input"),
    ({"model": EMBEDDING_MODEL, "input": []}, "input"),
    ({"model": EMBEDDING_MODEL, "input": ["ok", ""]}, "input"),
    ({"model": EMBEDDING_MODEL, "input": [1.5]}, "input"),
    ({"model": EMBEDDING_MODEL, "input": "hi", "encoding_format": "hex"}, "encoding_format"),
    ({"model": EMBEDDING_MODEL, "input": "hi", "dimensions": 0}, "dimensions"),
    ({"input": "hi"}, "model"),
])
def test_a_bad_field_is_400_naming_it(client_app, bank, body, param):
    response = client_app.post("/v1/embeddings", json=body, headers=headers(bank.key(), "embedder"))
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == param


def test_the_documentation_pages_embeddings_example_runs_as_printed(embeddings_server, bank):
    account = bank.account("10")
    code = page_examples(embeddings_server)["embeddings"]
    assert f'model="{EMBEDDING_MODEL}"' in code and '"X-AI-Provider": "embedder"' in code
    result = subprocess.run([sys.executable, "-c", code.replace(docs.KEY_PLACEHOLDER, bank.key(account))],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 3\n1 3\ntokens: 8\n"
    assert bank.charges(account) == [-cost(8)]
