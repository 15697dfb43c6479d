"""Channels through Flask's test client, against three fake upstream processes with keys of their
own: choice by priority, failover before the first byte and its bounds, cool-downs, automatic
disables, model maps and lists, self-hosted channels, aliases, and the encrypted keys."""
import os
import stat

import pytest

import channels
import gateway
from credentials import CredentialsError
from helpers import (MODEL, PRICE, add_channel, chat, expected_cost, fake_upstreams, free_port, fresh,
                     headers, post, sse_json)
from models import Channel, ChannelFailure, ModelAlias, Price


@pytest.fixture(scope="module")
def fleet():
    with fake_upstreams(3) as started:
        yield started


@pytest.fixture
def fakes(app, fleet):
    return fresh(app, fleet)


def requests_seen(*fakes):
    return [fake.stats()["requests"] for fake in fakes]


# --- choice and failover ------------------------------------------------------------------------

def test_the_channel_of_highest_priority_serves(app, client, bank, fakes):
    alpha, bravo, _ = fakes
    add_channel(app, "low", alpha, priority=0)
    add_channel(app, "high", bravo, priority=5)
    account = bank.account("10")
    assert post(client, chat(), bank.key(account)).status_code == 200
    assert requests_seen(alpha, bravo) == [0, 1]
    [row] = bank.requests(account)
    assert (row.channel, row.attempts) == ("high", 1) and row.upstream_ms >= 0
    assert bravo.stats()["authorizations"] == [f"Bearer {bravo.key}"]


@pytest.mark.parametrize("behaviour", [
    {"status": 503}, {"status": 500}, {"status": 429, "retry_after": "9"}, {"status": 401},
    {"status": 402, "message": "Insufficient Balance"}, {"malformed": True}, {"delay": 3},
], ids=["503", "500", "429", "401", "402", "malformed", "timeout"])
def test_a_failing_channel_hands_the_request_to_the_next_at_no_cost(app, client, bank, fakes, behaviour):
    alpha, bravo, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(**behaviour)
    account = bank.account("10")
    response = post(client, chat(fake={"chunks": 4}), bank.key(account))
    assert response.status_code == 200
    assert requests_seen(alpha, bravo) == [1, 1]
    [row] = bank.requests(account)
    assert (row.channel, row.attempts, row.status) == ("second", 2, 200)
    assert bank.charges(account) == [-expected_cost(completion=4)]
    assert [f.channel for f in ChannelFailure.select()] == ["first"]
    bank.assert_consistent()


def test_an_unreachable_channel_hands_the_request_to_the_next(app, client, bank, fakes):
    alpha, _, _ = fakes
    channels.add(app.extensions["keyring"], "deepseek", name="gone", priority="1",
                 base_url=f"http://127.0.0.1:{free_port()}/v1", api_key="sk-nobody-listens-here")
    add_channel(app, "there", alpha)
    account = bank.account("10")
    assert post(client, chat(), bank.key(account)).status_code == 200
    assert [(r.channel, r.attempts) for r in bank.requests(account)] == [("there", 2)]
    assert ChannelFailure.get().kind == "unreachable"


@pytest.mark.parametrize("status", [400, 404, 413, 422])
def test_the_callers_own_4xx_is_passed_on_without_failover(app, client, bank, fakes, status):
    alpha, bravo, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    account = bank.account("10")
    response = post(client, chat(fake={"status": status, "message": "not like that"}), bank.key(account))
    assert (response.status_code, response.get_json()["error"]["message"]) == (status, "not like that")
    assert requests_seen(alpha, bravo) == [1, 0]
    [row] = bank.requests(account)
    assert (row.channel, row.attempts, row.cost) == ("first", 1, 0)
    assert ChannelFailure.select().count() == 0 and Channel.get(name="first").failures == 0
    bank.assert_consistent()


def test_at_most_channel_max_attempts_are_tried_and_the_last_failure_answers(app, client, bank, fakes):
    alpha, bravo, charlie = fakes
    for name, fake, priority in (("a", alpha, 3), ("b", bravo, 2), ("c", charlie, 1)):
        add_channel(app, name, fake, priority=priority)
        fake.behave(status=503)
    charlie.behave(status=429, retry_after="7")
    channels.add(app.extensions["keyring"], "deepseek", name="d", priority="0",
                 base_url=alpha.url, api_key="sk-never-tried-at-all")
    account = bank.account("10")
    response = post(client, chat(), bank.key(account))
    assert (response.status_code, response.headers["Retry-After"]) == (429, "7")
    assert requests_seen(alpha, bravo, charlie) == [1, 1, 1]  # d, the fourth, is never tried
    [row] = bank.requests(account)
    assert (row.channel, row.attempts, row.status, row.cost) == (None, 3, 429, 0)
    assert bank.balance(account) == 10_000_000
    bank.assert_consistent()


def test_a_stream_fails_over_until_its_first_event(app, client, bank, fakes):
    alpha, bravo, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(reset_after=-1)
    account = bank.account("10")
    response = post(client, chat(stream=True, fake={"chunks": 3}), bank.key(account))
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_json(response.get_data(
        as_text=True))) == "你好，"
    assert requests_seen(alpha, bravo) == [1, 1]
    assert [(r.channel, r.attempts) for r in bank.requests(account)] == [("second", 2)]
    assert bank.charges(account) == [-expected_cost(completion=3)]


def test_a_stream_never_fails_over_after_its_first_byte(app, client, bank, fakes):
    alpha, bravo, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(reset_after=2)
    account = bank.account("10")
    response = post(client, chat(stream=True, fake={"chunks": 6}), bank.key(account))
    assert response.status_code == 200
    assert sse_json(response.get_data(as_text=True))[-1]["error"]["code"] == "upstream_error"
    assert requests_seen(alpha, bravo) == [1, 0]
    [row] = bank.requests(account)
    assert (row.channel, row.attempts, row.status) == ("first", 1, 502)
    assert row.cost > 0 and row.usage_estimated  # what was relayed is paid for
    assert [f.kind for f in ChannelFailure.select()] == ["unreachable"]
    bank.assert_consistent()


@pytest.mark.parametrize("path, body", [
    ("/v1/messages", {"model": MODEL, "max_tokens": 100, "messages": [{"role": "user", "content": "hi"}]}),
    ("/v1/responses", {"model": MODEL, "input": "hi"}),
], ids=["messages", "responses"])
def test_the_other_surfaces_fail_over_like_chat(app, client, bank, fakes, path, body):
    alpha, bravo, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(status=503)
    account = bank.account("10")
    response = client.post(path, json=body, headers=headers(bank.key(account)))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert requests_seen(alpha, bravo) == [1, 1]
    assert [(r.channel, r.attempts, r.status) for r in bank.requests(account)] == [("second", 2, 200)]
    bank.assert_consistent()


def test_a_self_hosted_channel_serves_embeddings(app, client, bank, fakes):
    alpha, _, _ = fakes
    add_channel(app, "office-llm", alpha, provider="openai-compatible")
    Price.create(provider="office-llm", model="bge-m3", input=2_000_000, cached_input=0, output=0,
                 max_output=8192)
    response = client.post("/v1/embeddings", json={"model": "office-llm/bge-m3", "input": "你好"},
                           headers=headers(bank.key(), provider=None))
    assert response.status_code == 200, response.get_data(as_text=True)
    assert response.get_json()["data"][0]["object"] == "embedding"
    assert alpha.stats()["bodies"][0]["model"] == "bge-m3"


# --- health -------------------------------------------------------------------------------------

def test_failures_in_a_row_cool_a_channel_down(app, client, bank, fakes):
    alpha, bravo, _ = fakes
    add_channel(app, "flaky", alpha, priority=1)
    add_channel(app, "steady", bravo)
    alpha.behave(status=502)
    token = bank.key(bank.account("10"))
    for _ in range(app.config["CHANNEL_FAILURES_TO_COOL"]):
        assert post(client, chat(), token).status_code == 200
    assert Channel.get(name="flaky").cooling_until is not None
    assert post(client, chat(), token).status_code == 200
    assert requests_seen(alpha, bravo) == [3, 4]  # the fourth went straight to the steady one


def test_a_cooling_channel_is_still_tried_when_every_channel_is_cooling(app, client, bank, fakes):
    alpha, _, _ = fakes
    add_channel(app, "only", alpha)
    alpha.behave(status=500)
    token = bank.key(bank.account("10"))
    for _ in range(4):
        assert post(client, chat(), token).status_code == 502
    assert requests_seen(alpha) == [4]
    alpha.behave()
    assert post(client, chat(), token).status_code == 200
    assert (Channel.get(name="only").failures, Channel.get(name="only").cooling_until) == (0, None)


def test_an_answer_ends_the_failures_in_a_row(app, client, bank, fakes):
    alpha, bravo, _ = fakes
    add_channel(app, "flaky", alpha, priority=1)
    add_channel(app, "steady", bravo)
    token = bank.key(bank.account("10"))
    alpha.behave(status=503)
    post(client, chat(), token)
    post(client, chat(), token)
    alpha.behave()
    post(client, chat(), token)
    alpha.behave(status=503)
    post(client, chat(), token)
    assert (Channel.get(name="flaky").failures, Channel.get(name="flaky").cooling_until) == (1, None)


@pytest.mark.parametrize("behaviour, detail", [({"status": 401}, "HTTP 401"),
                                              ({"status": 403}, "HTTP 403"),
                                              ({"status": 402, "code": "insufficient_balance"},
                                               "HTTP 402 insufficient_balance")])
def test_a_refused_key_or_balance_disables_the_channel_at_once_with_the_reason(
        app, client, bank, fakes, behaviour, detail):
    alpha, bravo, _ = fakes
    add_channel(app, "broke", alpha, priority=1)
    add_channel(app, "fine", bravo)
    alpha.behave(**behaviour)
    token = bank.key(bank.account("10"))
    assert post(client, chat(), token).status_code == 200
    broke = Channel.get(name="broke")
    assert broke.state == "auto_disabled" and detail in broke.reason
    assert post(client, chat(), token).status_code == 200
    assert requests_seen(alpha, bravo) == [1, 2]


def test_a_provider_whose_channels_are_all_disabled_is_503(app, client, bank, fakes):
    alpha, _, _ = fakes
    add_channel(app, "only", alpha)
    alpha.behave(status=401)
    account = bank.account("10")
    token = bank.key(account)
    assert post(client, chat(), token).status_code == 502
    response = post(client, chat(), token)
    assert (response.status_code, response.get_json()["error"]["code"]) == (503, "provider_not_configured")
    assert requests_seen(alpha) == [1]
    assert bank.balance(account) == 10_000_000


# --- what a channel serves ----------------------------------------------------------------------

def test_a_channel_serves_only_the_models_it_lists(app, client, bank, fakes):
    alpha, bravo, _ = fakes
    Price.create(provider="deepseek", model="deepseek-v4-pro", **PRICE)
    add_channel(app, "pro-only", alpha, priority=1, models="deepseek-v4-pro")
    add_channel(app, "all", bravo)
    token = bank.key(bank.account("10"))
    post(client, chat(), token)
    post(client, chat(model="deepseek-v4-pro"), token)
    assert [b["model"] for b in alpha.stats()["bodies"]] == ["deepseek-v4-pro"]
    assert [b["model"] for b in bravo.stats()["bodies"]] == [MODEL]


def test_a_model_map_sends_the_upstreams_own_name(app, client, bank, fakes):
    alpha, _, _ = fakes
    add_channel(app, "endpoint", alpha, model_map=f"{MODEL}=ep-20250101-abcde")
    account = bank.account("10")
    assert post(client, chat(), bank.key(account)).status_code == 200
    assert alpha.stats()["bodies"][0]["model"] == "ep-20250101-abcde"
    assert bank.requests(account)[0].model == MODEL


def test_a_self_hosted_channel_is_a_provider_under_its_own_name(app, client, bank, fakes):
    alpha, _, _ = fakes
    add_channel(app, "office-llm", alpha, provider="openai-compatible")
    Price.create(provider="office-llm", model="qwen3-8b", **PRICE)
    account = bank.account("10")
    token = bank.key(account)
    assert post(client, chat(model="qwen3-8b"), token, provider="office-llm").status_code == 200
    assert post(client, chat(model="office-llm/qwen3-8b"), token, provider=None).status_code == 200
    assert post(client, chat(model="qwen3-8b"), token, provider=None).status_code == 200
    assert [b["model"] for b in alpha.stats()["bodies"]] == ["qwen3-8b"] * 3
    assert {(r.provider, r.channel) for r in bank.requests(account)} == {("office-llm", "office-llm")}
    listed = client.get("/v1/models", headers={"X-API-Key": token}).get_json()["data"]
    assert {"id": "qwen3-8b", "object": "model", "created": 0, "owned_by": "office-llm"} in listed


# --- aliases ------------------------------------------------------------------------------------

def test_an_alias_is_routed_and_priced_as_its_target(app, client, bank, fakes):
    alpha, _, _ = fakes
    add_channel(app, "main", alpha)
    ModelAlias.create(alias="deepseek-chat-legacy", provider="deepseek", model=MODEL)
    account = bank.account("10")
    token = bank.key(account)
    response = post(client, chat(model="deepseek-chat-legacy", fake={"chunks": 2}), token, provider=None)
    assert response.status_code == 200
    assert alpha.stats()["bodies"][0]["model"] == MODEL
    assert bank.charges(account) == [-expected_cost(completion=2)]
    assert [(r.provider, r.model) for r in bank.requests(account)] == [("deepseek", MODEL)]
    listed = [m["id"] for m in client.get("/v1/models", headers={"X-API-Key": token}).get_json()["data"]]
    assert listed == [MODEL, "deepseek-chat-legacy"]


def test_models_lists_only_what_an_enabled_channel_serves(app, client, bank, fakes):
    alpha, _, _ = fakes
    Price.create(provider="deepseek", model="deepseek-v4-pro", **PRICE)
    add_channel(app, "flash-only", alpha, models=MODEL)
    token = bank.key()
    listed = lambda: [m["id"] for m in client.get("/v1/models", headers={"X-API-Key": token}).get_json()["data"]]  # noqa: E731
    assert listed() == [MODEL]
    channels.disable("flash-only")
    assert listed() == []


# --- keys at rest -------------------------------------------------------------------------------

def test_a_channel_key_is_stored_encrypted_and_shown_masked(app, fakes):
    alpha, _, _ = fakes
    row = add_channel(app, "secret", alpha)
    stored = Channel.get_by_id(row.id)
    assert alpha.key not in stored.api_key and stored.api_key.startswith("gAAAAA")
    assert stored.key_hint == f"{alpha.key[:3]}…{alpha.key[-4:]}"
    assert channels.listing(app.config["UPSTREAMS"])[0]["key"] == stored.key_hint
    assert app.extensions["keyring"].decrypt(stored.api_key) == alpha.key


def test_the_key_file_is_made_beside_the_sqlite_database_readable_by_its_owner_only(app, database, fakes):
    if not database.startswith("sqlite"):
        pytest.skip("PostgreSQL runs use ENCRYPTION_KEY")
    add_channel(app, "secret", fakes[0])
    key_file = database[len("sqlite:///"):] + ".key"
    assert stat.S_IMODE(os.stat(key_file).st_mode) == 0o600


def test_a_server_whose_encryption_key_cannot_decrypt_the_stored_keys_refuses_to_start(
        app, database, fakes, monkeypatch):
    add_channel(app, "secret", fakes[0])
    monkeypatch.setenv("DATABASE_URL", database)
    monkeypatch.setenv("ENCRYPTION_KEY", "1K7jF8b5tJ2zMOQqzvS4iX3hG0fOZQpUeDJ9bPAcs0Q=")  # another key
    with pytest.raises(CredentialsError, match="cannot decrypt .* Channels concerned: secret"):
        gateway.gunicorn_app()


def test_rekey_encrypts_every_key_anew_and_they_still_decrypt(app, database, fakes):
    alpha, bravo, _ = fakes
    add_channel(app, "one", alpha)
    add_channel(app, "two", bravo)
    before = {c.name: c.api_key for c in Channel.select()}
    keyring = app.extensions["keyring"]
    assert channels.rekey(keyring, new_key=database.startswith("sqlite")) == 2
    after = {c.name: c.api_key for c in Channel.select()}
    assert all(before[name] != after[name] for name in before)
    assert [keyring.decrypt(after[name]) for name in ("one", "two")] == [alpha.key, bravo.key]
