"""POST /v1/embeddings with the official `openai` package under real gunicorn, through the built-in
vendors that sell embeddings (Qwen, and the others), at the OpenAI-style fake's /embeddings."""
import base64
import os
import struct
import subprocess
import sys
from urllib.parse import urlparse

import openai
import pytest
import requests

from helpers import MODEL, OPENAI_STYLE, UPSTREAM_KEY, headers
from pages import page_examples
from models import Price
from providers import PROVIDERS
from web import docs

EMBEDDING_MODEL = "text-embedding-v4"
INPUT_PRICE = 2_000_000  # 2 元 per million tokens, nothing else
VECTOR = [0.125, -0.5, 0.25]  # the fake's first vector, exact in float32
SELLERS = [name for name in OPENAI_STYLE if PROVIDERS[name].embeddings]


@pytest.fixture
def embeddings_server(server):
    """gunicorn, with Qwen's embedding model priced by its input alone."""
    Price.create(provider="qwen", model=EMBEDDING_MODEL, input=INPUT_PRICE, cached_input=0, output=0,
                 max_output=8192)
    return server


def sdk(server, token, provider="qwen"):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=token, max_retries=0,
                         default_headers={"X-AI-Provider": provider})


def cost(tokens):
    return -(-tokens * INPUT_PRICE // 1_000_000)


def test_float_embeddings_are_answered_and_charged_at_the_input_price(embeddings_server, bank, upstream):
    account = bank.account("10")
    answer = sdk(embeddings_server, bank.key(account)).embeddings.create(
        model=EMBEDDING_MODEL, input="你好，世界", encoding_format="float")
    assert answer.data[0].embedding == VECTOR
    assert answer.usage.prompt_tokens == 5
    assert bank.charges(account) == [-cost(5)]
    [row] = bank.requests(account)
    assert (row.state, row.prompt_tokens, row.completion_tokens, row.usage_estimated) == (
        "settled", 5, 0, False)
    stats = upstream.stats()
    assert stats["bodies"][0]["model"] == EMBEDDING_MODEL
    assert stats["paths"] == ["/compatible-mode/v1/embeddings"]
    assert stats["authorizations"] == [f"Bearer {UPSTREAM_KEY}"]
    bank.assert_consistent()


def test_base64_embeddings_pass_through_untouched(embeddings_server, bank, upstream):
    """The openai package asks for base64 by default and decodes it itself."""
    answer = sdk(embeddings_server, bank.key()).embeddings.create(model=EMBEDDING_MODEL, input="hi")
    assert upstream.stats()["bodies"][0]["encoding_format"] == "base64"
    assert answer.data[0].embedding == VECTOR
    raw = requests.post(embeddings_server.url + "/v1/embeddings", headers=headers(bank.key(), "qwen"),
                        json={"model": EMBEDDING_MODEL, "input": "hi", "encoding_format": "base64"})
    assert raw.json()["data"][0]["embedding"] == base64.b64encode(struct.pack("<3f", *VECTOR)).decode()


def test_a_batch_gets_one_vector_per_input_and_one_charge(embeddings_server, bank):
    account = bank.account("10")
    answer = sdk(embeddings_server, bank.key(account)).embeddings.create(
        model=EMBEDDING_MODEL, input=["春", "夏天", "秋天来"], encoding_format="float")
    assert [item.index for item in answer.data] == [0, 1, 2]
    assert answer.data[1].embedding == [0.25, -0.5, 0.25]
    assert bank.charges(account) == [-cost(6)]


def test_token_arrays_and_dimensions_go_upstream_as_sent(embeddings_server, bank, upstream):
    answer = sdk(embeddings_server, bank.key()).embeddings.create(
        model=EMBEDDING_MODEL, input=[[101, 102], [103]], dimensions=2, encoding_format="float")
    assert [item.embedding for item in answer.data] == [[0.125, -0.5], [0.25, -0.5]]
    sent = upstream.stats()["bodies"][0]
    assert (sent["input"], sent["dimensions"]) == ([[101, 102], [103]], 2)


@pytest.mark.parametrize("vendor", SELLERS)
def test_every_vendor_that_sells_embeddings_serves_them_at_its_own_path(server, bank, upstream, vendor):
    Price.create(provider=vendor, model="embed-1", input=INPUT_PRICE, cached_input=0, output=0,
                 max_output=8192)
    account = bank.account("10")
    answer = sdk(server, bank.key(account), vendor).embeddings.create(model="embed-1", input="春天")
    assert answer.data[0].embedding == VECTOR
    [path] = upstream.stats()["paths"]
    assert path == urlparse(PROVIDERS[vendor].default_base_url).path.rstrip("/") + "/embeddings"
    assert bank.charges(account) == [-cost(2)]


def test_a_provider_without_embeddings_is_model_not_found_and_costs_nothing(embeddings_server, bank, upstream):
    account = bank.account("10")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(embeddings_server, bank.key(account), provider="deepseek").embeddings.create(
            model=MODEL, input="hi")
    assert refused.value.code == "model_not_found"
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_a_key_limit_applies_to_embeddings(embeddings_server, bank):
    account = bank.account("10")
    embed = sdk(embeddings_server, bank.key(account, rpm=1)).embeddings
    embed.create(model=EMBEDDING_MODEL, input="hi")
    with pytest.raises(openai.RateLimitError):
        embed.create(model=EMBEDDING_MODEL, input="hi")
    assert len(bank.charges(account)) == 1
    bank.assert_consistent()


def test_the_hold_is_the_inputs_bound_and_a_short_balance_is_403(embeddings_server, bank, upstream):
    account = bank.account("0.000010")
    with pytest.raises(openai.PermissionDeniedError) as refused:
        sdk(embeddings_server, bank.key(account)).embeddings.create(
            model=EMBEDDING_MODEL, input="x" * 100)
    assert refused.value.code == "insufficient_balance"
    assert upstream.stats()["requests"] == 0 and bank.balance(account) == 10


def test_missing_usage_is_estimated_from_the_input(embeddings_server, bank):
    account = bank.account("10")
    sdk(embeddings_server, bank.key(account)).embeddings.create(
        model=EMBEDDING_MODEL, input="abcdef", extra_body={"fake": {"usage": None}})
    [row] = bank.requests(account)
    assert row.usage_estimated and 0 < row.cost <= row.hold
    bank.assert_consistent()


def test_an_upstream_refusal_of_the_request_is_passed_on(embeddings_server, bank):
    account = bank.account("10")
    with pytest.raises(openai.BadRequestError) as refused:
        sdk(embeddings_server, bank.key(account)).embeddings.create(
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
def test_a_bad_field_is_400_naming_it(client, bank, body, param):
    response = client.post("/v1/embeddings", json=body, headers=headers(bank.key(), "qwen"))
    assert response.status_code == 400
    assert response.get_json()["error"]["param"] == param


def test_the_documentation_pages_embeddings_example_runs_as_printed(embeddings_server, bank):
    account = bank.account("10")
    code = page_examples(embeddings_server)["embeddings"]
    assert f'model="{EMBEDDING_MODEL}"' in code and '"X-AI-Provider": "qwen"' in code
    result = subprocess.run([sys.executable, "-c", code.replace(docs.KEY_PLACEHOLDER, bank.key(account))],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert result.stdout == "0 3\n1 3\ntokens: 8\n"
    assert bank.charges(account) == [-cost(8)]
