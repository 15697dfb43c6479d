"""The key page `/keys` through Flask's test client: balance, keys, usage, and who may touch what."""
import re
import time
from datetime import datetime, timezone

import pytest

import money
from web import keys, queries
from helpers import MODEL, chat, expected_cost, headers
from models import ApiKey, RequestLog
from helpers import served
from pages import PASSWORD, page, post_form, sign_in

KEY_PATTERN = re.compile(r"sk-qc-[A-Za-z0-9_-]{32,}")


@pytest.fixture
def alice(bank):
    return bank.account("10", name="alice", password=PASSWORD)


@pytest.fixture
def signed_in(client, alice):
    sign_in(client, alice)
    return client


# --- who may see the page -----------------------------------------------------------------------

def test_the_key_page_needs_a_signed_in_user(client, alice):
    response = client.get("/keys")
    assert response.status_code == 302 and response.headers["Location"].startswith("/signin?next=/keys")
    assert post_form(client, "/keys", label="sneaky").status_code == 302
    assert ApiKey.select().count() == 0


def test_the_page_shows_balance_and_the_amount_held_by_requests_in_flight(signed_in, alice):
    key, _ = ApiKey.issue(alice)
    money.hold(key, 1_250_000, "req_in_flight", "deepseek", MODEL, True)
    html = page(signed_in, "/keys")
    assert re.search(r'id="balance">8.750000<', html) and re.search(r'id="held">1.250000<', html)
    assert "进行中" in html


def test_keys_are_listed_by_prefix_and_never_by_secret(signed_in, alice):
    key, token = ApiKey.issue(alice, label="laptop", rpm=60, concurrency=2)
    ApiKey.update(last_used=time.time()).where(ApiKey.id == key.id).execute()
    revoked, _ = ApiKey.issue(alice, label="old", revoked=True)
    html = page(signed_in, "/keys")
    row = re.search(rf'data-prefix="{key.prefix}">(.*?)</tr>', html, re.S).group(1)
    assert "laptop" in row and "可用" in row and "RPM 60 · 并发 2" in row and "<time" in row
    assert "已吊销" in re.search(rf'data-prefix="{revoked.prefix}">(.*?)</tr>', html, re.S).group(1)
    assert token not in html and key.digest not in html and not KEY_PATTERN.search(html)


# --- creating, editing and revoking keys --------------------------------------------------------

def test_a_new_key_is_shown_once_with_a_copy_button_and_a_warning(signed_in, alice):
    response = post_form(signed_in, "/keys", label="laptop", rpm="60", tpm="100000", concurrency="2",
                         expires="2030-01-31T12:00")
    html = response.get_data(as_text=True)
    token = re.search(r'<code id="new-key">(sk-qc-[^<]+)</code>', html).group(1)
    assert 'data-copy="new-key"' in html and "这是唯一一次显示完整密钥" in html
    assert response.headers["Cache-Control"] == "no-store"
    key = ApiKey.lookup(token)
    assert (key.account_id, key.label, key.rpm, key.tpm, key.concurrency) == (alice.id, "laptop", 60,
                                                                              100000, 2)
    assert key.expires == datetime(2030, 1, 31, 12, tzinfo=timezone.utc).timestamp()
    assert token not in page(signed_in, "/keys")


def test_a_new_key_works_at_once(signed_in, upstream):
    html = post_form(signed_in, "/keys", label="").get_data(as_text=True)
    token = KEY_PATTERN.search(html).group(0)
    response = signed_in.post("/v1/chat/completions", json=chat(), headers=headers(token))
    assert response.status_code == 200


@pytest.mark.parametrize("field, value, reason", [
    ("rpm", "0", "须为正整数"), ("tpm", "-5", "须为正整数"), ("concurrency", "two", "须为正整数"),
    ("rpm", "1.5", "须为正整数"), ("tpm", "99999999999", "须为正整数"),
    ("expires", "soon", "过期时间的格式不正确"), ("expires", "2020-01-01T00:00", "过期时间须晚于现在"),
    ("label", "x" * 101, "名称最多 100 个字符")])
def test_a_key_form_with_a_bad_value_creates_nothing_and_says_why(signed_in, field, value, reason):
    response = post_form(signed_in, "/keys", **{"label": "x", field: value})
    assert response.status_code == 303 and response.headers["Location"] == "/keys"
    assert ApiKey.select().count() == 0
    assert re.search(rf'class="notice error"[^>]*>[^<]*{reason}', page(signed_in, "/keys"))


def test_an_edit_cannot_move_the_expiry_into_the_past(signed_in, alice):
    key, _ = ApiKey.issue(alice, label="ci")
    post_form(signed_in, f"/keys/{key.id}", label="ci", expires="2020-01-01T00:00")
    assert ApiKey.get_by_id(key.id).expires is None
    assert "过期时间须晚于现在" in page(signed_in, "/keys")


def test_a_key_gets_a_new_label_limits_and_expiry(signed_in, alice):
    key, _ = ApiKey.issue(alice, label="old", rpm=10, tpm=1000)
    response = post_form(signed_in, f"/keys/{key.id}", label="ci", rpm="", tpm="5000", concurrency="3",
                         expires="2031-06-01T08:30")
    assert response.status_code == 303
    key = ApiKey.get_by_id(key.id)
    assert (key.label, key.rpm, key.tpm, key.concurrency) == ("ci", None, 5000, 3)
    assert key.expires == datetime(2031, 6, 1, 8, 30, tzinfo=timezone.utc).timestamp()
    assert "已更新" in page(signed_in, "/keys")


def test_the_edit_form_shows_the_keys_current_settings(signed_in, alice):
    key, _ = ApiKey.issue(alice, label="ci", tpm=5000,
                          expires=datetime(2031, 6, 1, 8, 30, tzinfo=timezone.utc).timestamp())
    html = page(signed_in, f"/keys/{key.id}")
    assert 'name="label" type="text" value="ci"' in html
    assert 'name="tpm" type="number" value="5000"' in html and 'name="rpm" type="number" value=""' in html
    assert 'value="2031-06-01T08:30"' in html


def test_a_revoked_key_stops_working_at_once(signed_in, alice, bank, upstream):
    token = bank.key(alice)
    key = ApiKey.lookup(token)
    assert signed_in.post("/v1/chat/completions", json=chat(), headers=headers(token)).status_code == 200
    response = post_form(signed_in, f"/keys/{key.id}/revoke")
    assert response.status_code == 303
    assert ApiKey.get_by_id(key.id).revoked
    refused = signed_in.post("/v1/chat/completions", json=chat(), headers=headers(token))
    assert refused.status_code == 401 and refused.get_json()["error"]["code"] == "invalid_api_key"
    assert "已吊销" in page(signed_in, "/keys")


# --- one user never reaches another's keys or usage ---------------------------------------------

def test_another_users_key_answers_404_to_every_action(signed_in, bank):
    bob = bank.account("5", name="bob")
    key, _ = ApiKey.issue(bob, label="bob's", rpm=5)
    assert signed_in.get(f"/keys/{key.id}").status_code == 404
    assert post_form(signed_in, f"/keys/{key.id}", label="pwned").status_code == 404
    assert post_form(signed_in, f"/keys/{key.id}/revoke").status_code == 404
    assert signed_in.get("/keys/999999").status_code == 404
    key = ApiKey.get_by_id(key.id)
    assert (key.label, key.rpm, key.revoked) == ("bob's", 5, False)
    assert "找不到这个页面" in signed_in.get(f"/keys/{key.id}").get_data(as_text=True)


def test_another_users_keys_and_usage_are_not_on_the_page(signed_in, bank):
    bob = bank.account("5", name="bob")
    key, _ = ApiKey.issue(bob, label="bob-secret-label")
    served(key, 777_777)
    html = page(signed_in, "/keys")
    assert key.prefix not in html and "bob-secret-label" not in html and "0.777777" not in html


# --- usage --------------------------------------------------------------------------------------

def test_recent_requests_show_tokens_cost_status_and_duration(signed_in, alice):
    key, _ = ApiKey.issue(alice, label="laptop")
    served(key, expected_cost(completion=13), created=time.time() - 60)
    html = page(signed_in, "/keys")
    row = re.search(r'id="requests">.*?<tbody>(.*?)</tbody>', html, re.S).group(1)
    assert f"{key.prefix}…" in row and "deepseek / <code>deepseek-flash</code>" in row
    assert "12 (4)" in row and ">13<" in row and "1.50 s" in row
    assert f'class="cost">{money.yuan(expected_cost(completion=13))}<' in row
    assert '<span class="status s2xx">200</span>' in row


def test_recent_requests_show_the_callers_address(signed_in, alice):
    key, _ = ApiKey.issue(alice)
    row = served(key, 100)
    RequestLog.update(client_ip="203.0.113.9").where(RequestLog.id == row.id).execute()
    table = re.search(r'id="requests">.*?<tbody>(.*?)</tbody>', page(signed_in, "/keys"), re.S).group(1)
    assert '<span class="muted small client-ip">203.0.113.9</span>' in table


def test_cache_writes_show_beside_cache_hits_where_there_were_any(signed_in, alice):
    key, _ = ApiKey.issue(alice)
    served(key, 100, created=time.time() - 60)
    served(key, 100, created=time.time() - 30, cache_write=6)
    table = re.search(r'id="requests">.*?<tbody>(.*?)</tbody>', page(signed_in, "/keys"), re.S).group(1)
    newest, older = re.findall(r"<tr>(.*?)</tr>", table, re.S)
    assert "12 (4 / 6)" in newest
    assert "12 (4)" in older


def test_requests_in_flight_and_released_holds_are_marked(signed_in, alice):
    key, _ = ApiKey.issue(alice)
    money.hold(key, 1_000, "req_stale", "deepseek", MODEL, True)
    money.release_stale_holds(time.time() + 1)
    money.hold(key, 1_000, "req_open", "deepseek", MODEL, True)
    statuses = re.findall(r'<span class="badge[^"]*">([^<]+)</span>\s*</td>', page(signed_in, "/keys"))
    assert statuses[-2:] == ["进行中", "已释放"]


def test_requests_come_newest_first_twenty_to_a_page(signed_in, alice):
    key, _ = ApiKey.issue(alice)
    start = time.time() - 3600
    for n in range(keys.PER_PAGE + 5):
        served(key, n + 1, created=start + n)
    first, second = page(signed_in, "/keys"), page(signed_in, "/keys?page=2")
    costs = lambda html: re.findall(r'class="cost">([\d.]+)<', html)  # noqa: E731
    assert costs(first) == [money.yuan(n) for n in range(25, 5, -1)]
    assert costs(second) == [money.yuan(n) for n in range(5, 0, -1)]
    assert "第 1 / 2 页" in first and 'href="/keys?page=2"' in first and 'href="/keys?page=1"' in second
    assert costs(page(signed_in, "/keys?page=9")) == []
    assert costs(page(signed_in, "/keys?page=x")) == costs(first)


def test_daily_usage_sums_cost_and_tokens_per_utc_day(alice):
    key, _ = ApiKey.issue(alice)
    today = time.time() // 86400 * 86400
    served(key, 100, created=today + 10)
    served(key, 200, created=today + 20, completion=3)
    served(key, 50, created=today - 2 * 86400 + 5)
    served(key, 999, created=today - 40 * 86400)
    days = queries.daily_usage(alice.id, 30)
    assert len(days) == 30 and days[-1] == (today, 300, 25 + 15)
    assert days[-3] == (today - 2 * 86400, 50, 25)
    assert sum(cost for _, cost, _ in days) == 350


def test_the_chart_draws_a_bar_for_each_day_with_spending(signed_in, alice):
    key, _ = ApiKey.issue(alice)
    today = time.time() // 86400 * 86400
    served(key, 1_000, created=today + 1)
    served(key, 500, created=today - 86400 + 1)
    html = page(signed_in, "/keys")
    cost_chart, token_chart = re.findall(r"<svg.*?</svg>", html, re.S)
    assert cost_chart.count("<rect") == token_chart.count("<rect") == 2
    assert re.search(r'height="100\.0".*?<title>\d\d-\d\d: 0.001000</title>', cost_chart, re.S)
    assert re.search(r'height="50\.0".*?<title>\d\d-\d\d: 0.000500</title>', cost_chart, re.S)
    assert "0.001500" in html  # spent in 30 days
