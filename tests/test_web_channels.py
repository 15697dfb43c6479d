"""The channel page `/admin/channels` through Flask's test client: admins only; add, edit, disable,
enable, remove; a key entered once and then only masked; each channel's state and recent health."""
import re
import time

import pytest

from helpers import served
from pages import PASSWORD, page, post_form, sign_in
from models import ApiKey, Channel, ChannelFailure, RequestLog

KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def boss(client, bank):
    account = bank.account("0", name="boss", is_admin=True, password=PASSWORD)
    sign_in(client, account)
    return account


def add(client, **fields):
    form = {"provider": "deepseek", "name": "backup", "base_url": "http://127.0.0.1:9/v1", "api_key": KEY,
            "priority": "5", "weight": "2", "models": "", "model_map": "", **fields}
    return post_form(client, "/admin/channels", **form)


def row_of(html, name):
    return re.search(rf'data-name="{name}">(.*?)</tr>', html, re.S).group(1)


def test_only_admins_reach_the_channel_page(client, bank):
    alice = bank.account("1", name="alice", password=PASSWORD)
    assert client.get("/admin/channels").status_code == 302
    sign_in(client, alice)
    assert client.get("/admin/channels").status_code == 403
    assert add(client).status_code == 403
    deepseek = Channel.get(Channel.name == "deepseek")
    assert post_form(client, f"/admin/channels/{deepseek.id}/disable").status_code == 403
    assert Channel.get_by_id(deepseek.id).state == "enabled"
    assert not Channel.select().where(Channel.name == "backup").exists()


def test_an_admin_adds_a_channel_whose_key_is_then_shown_masked_only(client, boss):
    response = add(client)
    assert response.status_code == 303 and response.headers["Location"] == "/admin/channels"
    row = Channel.get(Channel.name == "backup")
    assert (row.priority, row.weight, row.base_url) == (5, 2, "http://127.0.0.1:9/v1")
    html = page(client, "/admin/channels")
    assert "渠道 backup 已添加" in html
    assert "sk-…cdef" in row_of(html, "backup") and KEY not in html
    edit = page(client, f"/admin/channels/{row.id}")
    assert KEY not in edit and "留空则保留 sk-…cdef" in edit


def test_editing_without_a_key_keeps_the_stored_one(client, boss, app):
    add(client)
    row = Channel.get(Channel.name == "backup")
    post_form(client, f"/admin/channels/{row.id}", base_url="http://127.0.0.1:10/v1", api_key="",
              priority="-3", weight="7", models="deepseek-flash", model_map="deepseek-flash=ep-9")
    changed = Channel.get_by_id(row.id)
    assert (changed.base_url, changed.priority, changed.weight, changed.models, changed.model_map) == (
        "http://127.0.0.1:10/v1", -3, 7, "deepseek-flash", "deepseek-flash=ep-9")
    assert app.extensions["keyring"].decrypt(changed.api_key) == KEY
    post_form(client, f"/admin/channels/{row.id}", base_url="http://127.0.0.1:10/v1",
              api_key="sk-new-key-9876543210", priority="0", weight="1", models="", model_map="")
    assert app.extensions["keyring"].decrypt(Channel.get_by_id(row.id).api_key) == "sk-new-key-9876543210"


def test_the_environments_channel_keeps_its_base_url_and_key(client, boss):
    row = Channel.get(Channel.name == "deepseek")
    html = page(client, f"/admin/channels/{row.id}")
    assert "DEEPSEEK_API_KEY" in html and 'name="api_key"' not in html
    post_form(client, f"/admin/channels/{row.id}", base_url="http://evil.example/v1", api_key="sk-x",
              priority="9", weight="1", models="", model_map="")
    row = Channel.get_by_id(row.id)
    assert (row.priority, row.base_url, row.api_key) == (9, "", "")


@pytest.mark.parametrize("field, value, complaint", [
    ("name", "deepseek", "这是提供方的名字"), ("name", "Bad Name", "渠道名须为"),
    ("base_url", "ftp://x", "Base URL 须以"), ("weight", "0", "权重须为"),
    ("model_map", "nonsense", "模型映射须为"), ("provider", "nosuch", "未知的提供方"),
])
def test_a_bad_channel_is_refused_and_the_page_says_why(client, boss, field, value, complaint):
    assert add(client, **{field: value}).status_code == 303
    assert not Channel.select().where(Channel.name == "backup").exists()
    assert re.search(rf'class="notice error"[^>]*>[^<]*{complaint}', page(client, "/admin/channels"))


def test_disable_enable_and_remove_take_effect_at_once(client, boss):
    add(client)
    row = Channel.get(Channel.name == "backup")
    post_form(client, f"/admin/channels/{row.id}/disable")
    assert Channel.get_by_id(row.id).state == "disabled"
    assert "已停用" in row_of(page(client, "/admin/channels"), "backup")
    post_form(client, f"/admin/channels/{row.id}/enable")
    assert Channel.get_by_id(row.id).state == "enabled"
    post_form(client, f"/admin/channels/{row.id}/remove")
    assert not Channel.select().where(Channel.id == row.id).exists()
    assert post_form(client, f"/admin/channels/{row.id}/remove").status_code == 404


def test_each_channel_shows_its_reason_success_rate_latency_and_last_error(client, boss, bank):
    add(client)
    Channel.update(state="auto_disabled", reason="HTTP 402 insufficient_balance").where(
        Channel.name == "backup").execute()
    key, _ = ApiKey.issue(bank.account("10"))
    for ms in (100, 300, 200):
        row = served(key, 1000)
        RequestLog.update(channel="backup", upstream_ms=ms).where(RequestLog.id == row.id).execute()
    ChannelFailure.create(channel="backup", kind="server_error", detail="HTTP 503", created=time.time() - 5)
    ChannelFailure.create(channel="backup", kind="refused", detail="HTTP 402")
    html = row_of(page(client, "/admin/channels"), "backup")
    assert "自动停用" in html and "上游拒绝了密钥或余额（HTTP 402 insufficient_balance）" in html
    assert "60%" in html and "(3/5)" in html
    assert "200 ms" in html
    assert re.search(r'class="last-error">HTTP 402<', html)
