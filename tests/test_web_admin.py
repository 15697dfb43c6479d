"""The admin pages through Flask's test client: accounts, top-ups, prices, and that only admins
reach them."""
import re

import pytest

import models
import money
from helpers import PRICE, expected_cost
from models import Account, ApiKey, LedgerEntry, Price
from pages import PASSWORD, page, post_form, sign_in
from helpers import served


@pytest.fixture
def boss(client, bank):
    account = bank.account("0", name="boss", is_admin=True, password=PASSWORD)
    sign_in(client, account)
    return account


@pytest.fixture
def alice(bank):
    return bank.account("10", name="alice", password=PASSWORD)


def admin_requests(alice):
    return [("GET", "/admin", {}), ("GET", "/admin/prices", {}), ("GET", f"/admin/accounts/{alice.id}", {}),
            ("POST", "/admin", {"name": "eve", "password": PASSWORD, "balance": "100", "is_admin": "1"}),
            ("POST", f"/admin/accounts/{alice.id}", {"amount": "100", "note": "free money"}),
            ("POST", "/admin/prices", {"provider": "deepseek", "model": "deepseek-flash", "input": "0",
                                       "cached_input": "0", "output": "0", "max_output": "10"})]


def send(client, method, path, form):
    return post_form(client, path, **form) if method == "POST" else client.get(path)


# --- only admins --------------------------------------------------------------------------------

def test_a_user_who_is_not_an_admin_gets_403_everywhere_and_changes_nothing(client, alice):
    sign_in(client, alice)
    for method, path, form in admin_requests(alice):
        response = send(client, method, path, form)
        assert response.status_code == 403, (method, path)
        assert "你没有权限访问此页面" in response.get_data(as_text=True)
    assert Account.get_or_none(Account.name == "eve") is None
    assert models.Account.get_by_id(alice.id).balance == money.parse_yuan("10")
    assert Price.get().output == PRICE["output"]
    assert "账户管理" not in page(client, "/keys")


def test_a_visitor_is_sent_to_sign_in(client, alice):
    for method, path, form in admin_requests(alice):
        response = send(client, method, path, form)
        assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=")
    assert Account.get_or_none(Account.name == "eve") is None


# --- accounts -----------------------------------------------------------------------------------

def test_the_accounts_list_shows_balances_held_amounts_and_keys(client, boss, alice):
    key, _ = ApiKey.issue(alice)
    money.hold(key, 2_500_000, "req_open", "deepseek", "deepseek-flash", False)
    html = page(client, "/admin")
    row = re.search(r'>alice</a></td>(.*?)</tr>', html, re.S).group(1)
    assert re.findall(r'data-label="[^"]+">([^<]*)</td>', row)[:4] == ["用户", "7.500000", "2.500000", "1"]


def test_an_admin_creates_an_account_with_an_opening_balance_and_password(client, app, boss):
    response = post_form(client, "/admin", name="carol", password="carol's password", balance="25.5")
    assert response.status_code == 303 and response.headers["Location"] == "/admin"
    carol = Account.get(Account.name == "carol")
    assert (carol.balance, carol.held, carol.is_admin) == (25_500_000, 0, False)
    assert [(e.amount, e.kind) for e in carol.ledger] == [(25_500_000, "topup")]
    assert "账户 carol 已创建" in page(client, "/admin")
    sign_in(app.test_client(), carol, "carol's password")


def test_an_admin_may_create_another_admin(client, boss):
    post_form(client, "/admin", name="root2", password=PASSWORD, balance="0", is_admin="1")
    assert Account.get(Account.name == "root2").is_admin


@pytest.mark.parametrize("form, message", [
    ({"name": "alice"}, "账户名 alice 已存在"),
    ({"name": "bad name!"}, "账户名须为"),
    ({"password": "short"}, "密码至少 8 个字符"),
    ({"balance": "-1"}, "初始余额"),
    ({"balance": "1.0000001"}, "初始余额"),
    ({"balance": "1e30"}, "初始余额"),
])
def test_a_bad_new_account_is_refused_with_a_reason(client, boss, alice, form, message):
    accounts = Account.select().count()
    response = post_form(client, "/admin", **{"name": "dave", "password": PASSWORD, "balance": "1", **form})
    assert response.status_code == 303
    assert Account.select().count() == accounts
    assert message in page(client, "/admin")


def test_a_top_up_is_a_ledger_row_with_its_note(client, boss, alice, bank):
    response = post_form(client, f"/admin/accounts/{alice.id}", amount="12.34", note="bank transfer #4711")
    assert response.status_code == 303 and response.headers["Location"] == f"/admin/accounts/{alice.id}"
    entry = LedgerEntry.select().order_by(LedgerEntry.id.desc()).first()
    assert (entry.account_id, entry.amount, entry.kind, entry.note) == (alice.id, 12_340_000, "topup",
                                                                         "bank transfer #4711")
    assert bank.balance(alice) == 22_340_000
    bank.assert_consistent()
    assert "已为 alice 充值 12.340000 元" in page(client, f"/admin/accounts/{alice.id}")


@pytest.mark.parametrize("amount, note", [("0", "x"), ("-5", "x"), ("abc", "x"), ("5", ""), ("", "x"),
                                          ("1000000000.000001", "x"), ("5", "  "), ("5", "x" * 201)])
def test_a_bad_top_up_adds_nothing(client, boss, alice, bank, amount, note):
    entries = LedgerEntry.select().count()
    assert post_form(client, f"/admin/accounts/{alice.id}", amount=amount, note=note).status_code == 303
    assert LedgerEntry.select().count() == entries and bank.balance(alice) == 10_000_000


def test_an_admin_sees_any_accounts_keys_and_usage_but_no_secret(client, boss, alice):
    key, token = ApiKey.issue(alice, label="alice-laptop")
    served(key, expected_cost(completion=13))
    html = page(client, f"/admin/accounts/{alice.id}")
    assert "alice-laptop" in html and f"{key.prefix}…" in html
    assert f'class="cost">{money.yuan(expected_cost(completion=13))}<' in html
    assert token not in html and key.digest not in html and "scrypt:" not in html
    assert f"/keys/{key.id}/revoke" not in html  # read-only: only the owner manages keys
    assert client.get("/admin/accounts/999999").status_code == 404


# --- prices -------------------------------------------------------------------------------------

def test_an_admin_sets_a_new_price_in_yuan_per_million_tokens(client, boss):
    response = post_form(client, "/admin/prices", provider="deepseek", model="deepseek-v4-pro", input="4",
                         cached_input="0.025", output="16", max_output="8192")
    assert response.status_code == 303
    price = Price.get(Price.model == "deepseek-v4-pro")
    assert (price.input, price.cached_input, price.output, price.max_output) == (4_000_000, 25_000,
                                                                                 16_000_000, 8192)
    assert "deepseek/deepseek-v4-pro 的价格已保存" in page(client, "/admin/prices")
    assert "deepseek-v4-pro" in page(client, "/")


def test_an_admin_changes_an_existing_price_from_a_prefilled_form(client, boss):
    html = page(client, "/admin/prices?provider=deepseek&model=deepseek-flash")
    assert 'name="model" type="text" value="deepseek-flash"' in html
    assert 'name="output" type="text" value="8"' in html
    assert 'name="cached_input" type="text" value="0.5"' in html
    post_form(client, "/admin/prices", provider="deepseek", model="deepseek-flash", input="3",
              cached_input="0.5", output="9", max_output="2000")
    price = Price.get(Price.model == "deepseek-flash")
    assert (price.input, price.output, price.max_output) == (3_000_000, 9_000_000, 2000)
    assert Price.select().count() == 1


@pytest.mark.parametrize("field, value", [("provider", "nobody"), ("model", ""), ("model", "a b"),
                                          ("output", "-1"), ("input", "x"), ("max_output", "0"),
                                          ("max_output", "")])
def test_a_bad_price_is_refused(client, boss, field, value):
    form = {"provider": "deepseek", "model": "new-model", "input": "1", "cached_input": "1", "output": "1",
            "max_output": "10", field: value}
    assert post_form(client, "/admin/prices", **form).status_code == 303
    assert Price.select().count() == 1
    assert 'class="notice error"' in page(client, "/admin/prices")


def test_an_admin_sets_a_cache_write_price_or_leaves_it_to_the_miss_price(client, boss):
    post_form(client, "/admin/prices", provider="qwen", model="qwen3-max", input="2.5", cached_input="0.5",
              cache_write="3.125", output="10", max_output="8192")
    post_form(client, "/admin/prices", provider="moonshot", model="kimi-k3", input="20", cached_input="2",
              cache_write="", output="100", max_output="8192")
    assert Price.get(Price.model == "qwen3-max").cache_write == 3_125_000
    assert Price.get(Price.model == "kimi-k3").cache_write is None
    html = page(client, "/admin/prices")
    assert "输入（写入缓存）" in html
    qwen = re.search(r"qwen3-max</code></td>(.*?)</tr>", html, re.S).group(1)
    kimi = re.search(r"kimi-k3</code></td>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r'data-label="[^"]+">([^<]*)</td>', qwen)[:4] == ["2.5", "0.5", "3.125", "10"]
    assert re.findall(r'data-label="[^"]+">([^<]*)</td>', kimi)[:4] == ["20", "2", "同未命中", "100"]
    edit = page(client, "/admin/prices?provider=qwen&model=qwen3-max")
    assert 'name="cache_write" type="text" value="3.125"' in edit


def test_a_bad_cache_write_price_is_refused(client, boss):
    post_form(client, "/admin/prices", provider="qwen", model="qwen3-max", input="2.5", cached_input="0.5",
              cache_write="-1", output="10", max_output="8192")
    assert Price.select().count() == 1
    html = page(client, "/admin/prices")
    assert 'class="notice error"' in html and "「输入（写入缓存）」须为" in html
