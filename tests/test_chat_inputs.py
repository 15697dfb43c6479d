"""Whatever a caller sends gets a clear answer and loses nothing: null is absent, odd JSON is a 400,
and a fault inside the gateway after admission gives the money back at once."""
import dataclasses
import json

import pytest

from helpers import MODEL, PRICE, chat, headers
from providers import PROVIDERS
from providers.base import Upstream


def post(client, body, token):
    return client.post("/v1/chat/completions", json=body, headers=headers(token))


@pytest.mark.parametrize("field", ["temperature", "max_tokens", "stream", "stream_options", "top_p",
                                   "stop", "tools", "user"])
def test_null_for_an_optional_field_means_it_was_not_sent(client, bank, upstream, field):
    response = post(client, chat(**{field: None}), bank.key())
    assert response.status_code == 200, response.get_json()
    sent = upstream.stats()["bodies"][0]
    assert field not in sent or field in ("temperature", "max_tokens")
    assert sent["temperature"] == 0.7 and sent["max_tokens"] == PRICE["max_output"]
    assert response.content_type == "application/json"  # stream: null is not a stream


@pytest.mark.parametrize("raw", [
    b'{"model": "deepseek-flash", "messages": [{"role": "user", "content": "\\ud800"}]}',
    b'{"model": "deepseek-flash", "messages": [{"role": "user", "content": "a\\udfffb"}]}',
    b'{"model": "deepseek-flash", "messages": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
])
def test_json_that_utf8_cannot_carry_or_too_deep_to_parse_is_a_400(client, bank, upstream, raw):
    account = bank.account("10")
    response = client.post("/v1/chat/completions", data=raw, headers={
        **headers(bank.key(account)), "Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "invalid_request"
    assert upstream.stats()["requests"] == 0
    assert bank.balance(account) == 10_000_000


def test_a_surrogate_pair_escape_is_ordinary_text(client, bank, upstream):
    raw = json.dumps(chat(content="🌍")).encode()  # ensure_ascii: "\ud83c\udf0d"
    response = client.post("/v1/chat/completions", data=raw, headers={
        **headers(bank.key()), "Content-Type": "application/json"})
    assert response.status_code == 200
    assert upstream.stats()["bodies"][0]["messages"][0]["content"] == "🌍"


@pytest.mark.parametrize("route, body", [
    ("/v1/chat/completions", chat(model="deepseek-flash\x00")),
    ("/v1/messages", chat(model="\x00", max_tokens=10)),
    ("/v1/responses", {"model": "a\x00b", "input": "hi"}),
    ("/v1/embeddings", {"model": "\x00", "input": "hi"})])
def test_a_model_name_with_a_nul_character_is_a_400_on_every_database(client, bank, upstream, route, body):
    response = client.post(route, json=body, headers=headers(bank.key()))
    assert response.status_code == 400, response.get_data(as_text=True)
    assert "NUL" in response.get_data(as_text=True)
    assert upstream.stats()["requests"] == 0


def test_an_integer_written_with_a_zero_fraction_is_that_integer(client, bank, upstream):
    response = post(client, chat(max_tokens=5.0), bank.key())
    assert response.status_code == 200, response.get_json()
    sent = upstream.stats()["bodies"][0]["max_tokens"]
    assert sent == 5 and isinstance(sent, int)
    assert post(client, chat(max_tokens=5.5), bank.key()).status_code == 400


@dataclasses.dataclass(frozen=True)
class BrokenProvider:
    """DeepSeek, but reading a whole answer fails inside the gateway."""
    inner: object
    name = "deepseek"

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def completion(self, payload):
        raise RuntimeError("a bug after admission")


def test_a_fault_after_admission_is_a_500_that_releases_the_hold_and_the_slot_at_once(
        app, client, bank, upstream):
    good = app.config["UPSTREAMS"]["deepseek"]
    app.config["UPSTREAMS"] = {"deepseek": Upstream(BrokenProvider(PROVIDERS["deepseek"]),
                                                    good.base_url, good.api_key)}
    account = bank.account("10")
    token = bank.key(account, concurrency=1)
    response = post(client, chat(), token)
    assert response.status_code == 500
    assert response.get_json()["error"]["code"] == "internal_error"
    [row] = bank.requests(account)
    assert (row.state, row.status, row.cost) == ("settled", 500, 0)
    assert (bank.balance(account), bank.held(account)) == (10_000_000, 0)
    assert bank.charges(account) == []
    bank.assert_consistent()
    app.config["UPSTREAMS"] = {"deepseek": good}
    assert post(client, chat(), token).status_code == 200  # the concurrency slot is free


def test_a_model_named_with_its_provider_is_sent_upstream_without_the_prefix(client, bank, upstream):
    response = post(client, chat(model=f"deepseek/{MODEL}"), bank.key())
    assert response.status_code == 200
    assert upstream.stats()["bodies"][0]["model"] == MODEL
