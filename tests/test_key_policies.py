"""A key's policies through Flask's test client: the models it may use, the networks it may call
from, its spend budget; set on the key page."""
import re

import pytest

import key_policy
from helpers import MODEL, PRICE, chat, expected_cost, headers, post
from pages import PASSWORD, page, post_form, sign_in
from models import ApiKey, ModelAlias, Price


def listed(client, token):
    return [m["id"] for m in client.get("/v1/models", headers={"X-API-Key": token}).get_json()["data"]]


# --- allowed models -----------------------------------------------------------------------------

def test_a_key_may_use_only_its_models_and_lists_only_those(client, bank, upstream):
    Price.create(provider="deepseek", model="deepseek-v4-pro", **PRICE)
    account = bank.account("10")
    token = bank.key(account, models=MODEL)
    assert post(client, chat(), token).status_code == 200
    refused = post(client, chat(model="deepseek-v4-pro"), token)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "model_not_allowed")
    assert refused.get_json()["error"]["param"] == "model"
    assert upstream.stats()["requests"] == 1 and len(bank.requests(account)) == 1
    assert listed(client, token) == [MODEL]
    assert listed(client, bank.key()) == ["deepseek-flash", "deepseek-v4-pro"]


def test_a_key_allowed_a_model_may_use_it_by_an_alias_and_by_provider_and_name(client, bank, upstream):
    ModelAlias.create(alias="flash", provider="deepseek", model=MODEL)
    assert post(client, chat(model="flash"), bank.key(models=MODEL), provider=None).status_code == 200
    assert post(client, chat(model="flash"), bank.key(models="flash"), provider=None).status_code == 200
    assert post(client, chat(), bank.key(models=f"deepseek/{MODEL}")).status_code == 200
    assert post(client, chat(), bank.key(models="flash")).status_code == 403


# --- allowed networks ---------------------------------------------------------------------------

def test_a_key_refuses_a_caller_outside_its_networks(client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account, ips="10.0.0.0/8")
    refused = post(client, chat(), token, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "ip_not_allowed")
    assert post(client, chat(), token, environ_base={"REMOTE_ADDR": "10.9.8.7"}).status_code == 200
    assert client.get("/v1/balance", headers={"X-API-Key": token},
                      environ_base={"REMOTE_ADDR": "192.0.2.1"}).status_code == 403
    assert upstream.stats()["requests"] == 1 and len(bank.requests(account)) == 1


def test_x_forwarded_for_is_believed_from_a_trusted_proxy_only(client, bank, upstream):
    token = bank.key(ips="203.0.113.0/24")
    through_proxy = {"REMOTE_ADDR": "127.0.0.1"}
    forwarded = client.post("/v1/chat/completions", json=chat(), environ_base=through_proxy,
                            headers={**headers(token), "X-Forwarded-For": "198.51.100.1, 203.0.113.9"})
    assert forwarded.status_code == 200
    spoofed = client.post("/v1/chat/completions", json=chat(), environ_base={"REMOTE_ADDR": "192.0.2.1"},
                          headers={**headers(token), "X-Forwarded-For": "203.0.113.9"})
    assert spoofed.status_code == 403


def test_the_request_log_keeps_the_callers_address_the_forwarded_one_behind_a_trusted_proxy(
        client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    post(client, chat(), token, environ_base={"REMOTE_ADDR": "192.0.2.1"})
    client.post("/v1/chat/completions", json=chat(), environ_base={"REMOTE_ADDR": "127.0.0.1"},
                headers={**headers(token), "X-Forwarded-For": "203.0.113.9"}).close()
    assert [row.client_ip for row in bank.requests(account)] == ["192.0.2.1", "203.0.113.9"]


@pytest.mark.parametrize("peer, forwarded_for, caller", [
    ("192.0.2.1", "203.0.113.9", "192.0.2.1"),             # not a proxy: its header is ignored
    ("127.0.0.1", "203.0.113.9", "203.0.113.9"),           # a trusted proxy's caller
    ("127.0.0.1", "203.0.113.9, 127.0.0.1", "203.0.113.9"),  # two trusted proxies in a row
    ("127.0.0.1", "6.6.6.6, 203.0.113.9", "203.0.113.9"),  # what the caller made up is left of it
    ("127.0.0.1", None, "127.0.0.1"),
])
def test_the_callers_address_is_the_nearest_one_no_trusted_proxy_vouches_for(peer, forwarded_for, caller):
    proxies = key_policy.trusted_proxies("127.0.0.1,::1")
    assert key_policy.caller_address(peer, forwarded_for, proxies) == caller


# --- spend budget -------------------------------------------------------------------------------

def test_a_request_beyond_the_keys_budget_is_refused_before_the_upstream(client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account, budget=100)
    refused = post(client, chat(), token)
    assert (refused.status_code, refused.get_json()["error"]["code"]) == (403, "key_budget_exceeded")
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []
    assert bank.balance(account) == 10_000_000


def test_what_a_key_spends_counts_against_its_budget(client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account, budget=1_000_000)
    body = chat(max_tokens=1, fake={"chunks": 1})
    assert post(client, body, token).status_code == 200
    key = ApiKey.lookup(token)
    spent, [first] = expected_cost(completion=1), bank.requests(account)
    assert (ApiKey.get_by_id(key.id).spent, ApiKey.get_by_id(key.id).held) == (spent, 0)
    ApiKey.update(budget=spent + first.hold).where(ApiKey.id == key.id).execute()
    assert post(client, body, token).status_code == 200  # what is left covers one more hold exactly
    refused = post(client, body, token)
    assert refused.get_json()["error"]["code"] == "key_budget_exceeded"
    assert ApiKey.get_by_id(key.id).spent == 2 * spent and len(bank.requests(account)) == 2
    bank.assert_consistent()


# --- on the key page ----------------------------------------------------------------------------

@pytest.fixture
def signed_in(client, bank):
    alice = bank.account("10", name="alice", password=PASSWORD)
    sign_in(client, alice)
    return client


def test_the_key_page_sets_models_budget_and_networks(signed_in):
    html = post_form(signed_in, "/keys", label="ci", models=f"{MODEL}, deepseek-chat", budget="12.5",
                     ips="10.0.0.0/8, 203.0.113.7").get_data(as_text=True)
    assert "sk-qc-" in html
    key = ApiKey.get()
    assert (key.models, key.budget, key.ips) == (f"{MODEL},deepseek-chat", 12_500_000, "10.0.0.0/8,203.0.113.7/32")
    listing = page(signed_in, "/keys")
    assert "预算：已花 0.000000 / 12.500000 元" in listing and "10.0.0.0/8, 203.0.113.7/32" in listing
    post_form(signed_in, f"/keys/{key.id}", label="ci", budget="", models="", ips="")
    key = ApiKey.get()
    assert (key.models, key.budget, key.ips) == ("", None, "")


def test_the_edit_form_shows_the_keys_policies(signed_in):
    post_form(signed_in, "/keys", label="ci", models=MODEL, budget="3", ips="10.0.0.0/8")
    html = page(signed_in, f"/keys/{ApiKey.get().id}")
    assert f'name="models" type="text" value="{MODEL}"' in html
    assert 'name="budget" type="text" value="3.000000"' in html
    assert 'name="ips" type="text" value="10.0.0.0/8"' in html


@pytest.mark.parametrize("field, value, complaint", [("models", "a b", "允许的模型"),
                                                     ("ips", "10.0.0.300/8", "允许的网络"),
                                                     ("budget", "-1", "花费预算")])
def test_a_bad_policy_creates_no_key_and_says_why(signed_in, field, value, complaint):
    assert post_form(signed_in, "/keys", label="x", **{field: value}).status_code == 303
    assert ApiKey.select().count() == 0
    assert re.search(rf'class="notice error"[^>]*>[^<]*{complaint}', page(signed_in, "/keys"))
