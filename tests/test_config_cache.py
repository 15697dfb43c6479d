"""What a worker keeps of keys, prices, aliases and channels (config_cache.py): read once, kept while
none of them changes, and let go of by the next request after any change, however it was made."""
import logging

import config_cache
from helpers import MODEL, PRICE, chat, expected_cost, post
from models import ApiKey, Channel, ModelAlias, Price

WATCHED_READS = ("FROM apikey", "FROM price", "FROM modelalias", "FROM channel")


def version():
    return config_cache.VERSION.run().fetchone()[0]


def test_a_second_request_reads_no_key_price_alias_or_channel_row(client, bank, upstream, caplog):
    token = bank.key(bank.account("10"))
    assert post(client, chat(), token).status_code == 200
    with caplog.at_level(logging.DEBUG, logger="peewee"):
        assert post(client, chat(), token).status_code == 200
    statements = [record.msg[0] for record in caplog.records if record.name == "peewee"]
    assert any("FROM configversion" in sql for sql in statements)
    assert [sql for sql in statements if any(read in sql for read in WATCHED_READS)] == []


def test_what_a_request_changes_of_its_key_does_not_count_as_a_change(client, bank, upstream):
    token = bank.key(bank.account("10"))
    before = version()
    assert post(client, chat(), token).status_code == 200
    assert version() == before


def test_a_key_revoked_by_hand_is_refused_by_the_next_request(client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    assert post(client, chat(), token).status_code == 200
    ApiKey.update(revoked=True).where(ApiKey.digest == ApiKey.digest_of(token)).execute()
    refused = post(client, chat(), token)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (401, "invalid_api_key")
    assert len(bank.requests(account)) == 1 and upstream.stats()["requests"] == 1


def test_a_price_set_from_the_command_line_is_the_next_requests_price(client, cli, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    assert post(client, chat(fake={"chunks": 7}), token).status_code == 200
    assert cli("prices", "set", "deepseek", MODEL, "--input", "4", "--cached-input", "1",
               "--output", "16").exit_code == 0
    assert post(client, chat(fake={"chunks": 7}), token).status_code == 200
    doubled = {**PRICE, "input": 4_000_000, "cached_input": 1_000_000, "output": 16_000_000}
    assert bank.charges(account) == [-expected_cost(completion=7),
                                     -expected_cost(completion=7, price=doubled)]


def test_an_alias_made_after_its_name_was_refused_serves_the_next_request(client, bank, upstream):
    token = bank.key(bank.account("10"))
    assert post(client, chat(model="flash"), token, provider=None).status_code == 400
    ModelAlias.create(alias="flash", provider="deepseek", model=MODEL)
    assert post(client, chat(model="flash"), token, provider=None).status_code == 200


def test_a_channel_disabled_is_not_tried_by_the_next_request(client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    assert post(client, chat(), token).status_code == 200
    Channel.update(state="disabled").where(Channel.provider == "deepseek").execute()
    refused = post(client, chat(), token)
    assert refused.status_code == 503
    assert upstream.stats()["requests"] == 1 and bank.requests(account)[-1].state == "settled"


def test_what_is_kept_is_bounded_however_many_names_callers_send(client, bank, upstream, monkeypatch):
    monkeypatch.setattr(config_cache, "LIMIT", 3)
    token = bank.key(bank.account("10"))
    for number in range(8):
        assert post(client, chat(model=f"no-such-model-{number}"), token).status_code == 400
        assert len(config_cache._kept) <= 3
    Price.create(provider="deepseek", model="no-such-model-7", **PRICE)
    assert post(client, chat(model="no-such-model-7"), token).status_code == 200
