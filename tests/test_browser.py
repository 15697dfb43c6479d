"""End to end in headless Chromium (Debian's, driven by Playwright) against real gunicorn: an admin
opens an account, its user makes a key, spends through the gateway, sees the cost and revokes it.
Screenshots of every page at desktop and phone widths are saved in the test's temporary folder."""
import re
import time

import pytest
import requests

import models
import money
from web import auth
from helpers import UPSTREAM_KEY, chat, expected_cost, headers, sse_data
from pages import DESKTOP, PHONE
from models import RequestLog

BOSS_PASSWORD, ALICE_PASSWORD = "boss-password-1", "alice-password-1"


class Screens:
    """One signed-in browser page, looked at in desktop and phone widths; each look is saved and
    checked: no console error (a CSP violation is one) and nothing wider than the screen."""

    def __init__(self, browser, folder):
        self.folder, self.errors = folder, []
        self.context = browser.new_context(viewport=DESKTOP, locale="zh-CN",
                                           permissions=["clipboard-read", "clipboard-write"])
        self.page = self.context.new_page()
        self.page.on("console", lambda message: message.type == "error" and self.errors.append(message.text))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))

    def shoot(self, name):
        """The page as it is, at each width: resized, not reloaded (a new key is shown only once)."""
        for size in (PHONE, DESKTOP):
            self.page.set_viewport_size(size)
            self.page.screenshot(path=self.folder / f"{name}-{size['width']}.png", full_page=True)
            overflow = self.page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} is {overflow}px wider than a {size['width']}px screen"
        assert self.errors == []


@pytest.fixture
def screens(browser, server, tmp_path):
    """Closed before gunicorn stops: an open keep-alive connection would hold up its shutdown."""
    opened = Screens(browser, tmp_path)
    yield opened
    opened.context.close()


def sign_in(page, name, password):
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("form.stack button")


def wait_until_settled(account_name, timeout=5.0):
    deadline = time.monotonic() + timeout
    query = RequestLog.select().join(models.Account).where(models.Account.name == account_name)
    while query.where(RequestLog.state == "held").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    return list(query)


def test_an_account_is_opened_a_key_made_used_seen_and_revoked(screens, server, upstream, tmp_path):
    from playwright.sync_api import expect
    money.create_account("boss", is_admin=True, password=BOSS_PASSWORD)
    page = screens.page

    page.goto(server.url + "/")
    expect(page.locator("h1")).to_have_text("API 文档")
    screens.shoot("docs")

    # The admin signs in and opens an account for alice with 20 元.
    page.goto(server.url + "/keys")
    expect(page).to_have_url(server.url + "/signin?next=/keys")
    screens.shoot("sign-in")
    sign_in(page, "boss", BOSS_PASSWORD)
    expect(page).to_have_url(server.url + "/keys")
    page.goto(server.url + "/admin")
    page.fill("#create-account input[name=name]", "alice")
    page.fill("#create-account input[name=password]", ALICE_PASSWORD)
    page.fill("#create-account input[name=balance]", "20")
    page.click("#create-account button")
    expect(page.locator(".notice.success")).to_contain_text("账户 alice 已创建")
    expect(page.locator("#accounts tr", has_text="alice")).to_contain_text("20.000000")
    screens.shoot("admin")
    page.click("text=价格")
    expect(page.locator("#prices")).to_contain_text("deepseek-flash")
    screens.shoot("admin-prices")
    page.click("button:has-text('退出')")

    # Alice signs in, makes a key and copies it.
    page.goto(server.url + "/signin")
    sign_in(page, "alice", ALICE_PASSWORD)
    expect(page).to_have_url(server.url + "/keys")
    expect(page.locator("#balance")).to_have_text("20.000000")
    page.fill(".create-key input[name=label]", "laptop")
    page.click(".create-key button")
    shown = page.inner_text("#new-key")
    page.click("button[data-copy=new-key]")
    expect(page.locator("button[data-copy=new-key]")).to_have_text("已复制")
    token = page.evaluate("navigator.clipboard.readText()")
    assert token == shown and token.startswith(models.KEY_PREFIX)
    screens.shoot("key-created")

    # The key streams a completion through the gateway from the fake upstream.
    with requests.post(server.url + "/v1/chat/completions", json=chat(stream=True), headers=headers(token),
                       stream=True, timeout=10) as response:
        assert response.status_code == 200
        assert sse_data(response.text)[-1] == "[DONE]"
    [row] = wait_until_settled("alice")
    cost = expected_cost(completion=13)
    assert (row.state, row.cost) == ("settled", cost)

    # The usage is on her page, with the right cost; the docs show her key's prefix.
    page.click("text=我已保存，返回密钥列表")
    expect(page.locator("#requests td.cost")).to_have_text(money.yuan(cost))
    expect(page.locator("#balance")).to_have_text(money.yuan(20 * money.MICRO - cost))
    expect(page.locator("#keys")).to_contain_text("laptop")
    screens.shoot("keys")
    page.goto(server.url + "/")
    expect(page.locator("#code-curl")).to_contain_text(f"X-API-Key: {token[:models.KEY_DISPLAY_LENGTH]}…")
    screens.shoot("docs-signed-in")

    # She revokes the key; the next request is refused.
    page.goto(server.url + "/keys")
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#keys button:has-text('吊销')")
    expect(page.locator(".notice.success")).to_contain_text("已吊销")
    expect(page.locator("#keys .badge")).to_have_text("已吊销")
    refused = requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token),
                            timeout=10)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"

    log = server.log_text()
    assert token not in log and ALICE_PASSWORD not in log and BOSS_PASSWORD not in log
    print(f"\nscreenshots: {tmp_path}")


# Elements of `selector` whose content is wider than they are.
OVERFLOWING = """(selector) => [...document.querySelectorAll(selector)]
  .filter((element) => element.scrollWidth > element.clientWidth)
  .map((element) => `${element.className}: ${element.textContent.trim().slice(0, 40)}`)"""
# How far each key row's action cell ends from the row's bottom edge, in pixels.
ACTIONS_OFF_THE_ROW = """() => [...document.querySelectorAll("#keys tbody tr")].map((row) =>
  Math.abs(row.getBoundingClientRect().bottom - row.querySelector("td.actions").getBoundingClientRect().bottom))"""


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_a_billion_yuan_and_long_labels_stay_inside_the_key_page(screens, server, bank, lang):
    rich = bank.account("1000000027", name="rich", password=ALICE_PASSWORD)
    bank.key(rich, label="x" * 60, rpm=100_000_000, tpm=999_999_999, concurrency=999)
    bank.key(rich, label="production server", rpm=600)
    page = screens.page
    page.goto(server.url + f"/signin?lang={lang}")
    sign_in(page, "rich", ALICE_PASSWORD)
    assert page.inner_text("#balance") == "1000000027.000000"
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        assert page.evaluate(OVERFLOWING, ".stat, .stat-value, #keys td") == [], size
    page.set_viewport_size(DESKTOP)
    assert max(page.evaluate(ACTIONS_OFF_THE_ROW)) < 1
    screens.shoot(f"keys-{lang}")


def test_sessions_and_the_sign_in_throttle_hold_on_every_worker(server):
    """Every request on a new connection, so that both workers serve them."""
    money.create_account("carol", password=BOSS_PASSWORD)
    fresh = {"Connection": "close"}
    form = requests.get(server.url + "/signin", headers=fresh, timeout=10)
    token = re.search(r'name="csrf" value="([^"]+)"', form.text).group(1)

    def sign_in_as_carol(password):
        return requests.post(server.url + "/signin", cookies=form.cookies, headers=fresh, timeout=10,
                             allow_redirects=False,
                             data={"csrf": token, "name": "carol", "password": password})

    answers = [sign_in_as_carol("guess").status_code for _ in range(auth.MAX_FAILURES_PER_NAME + 2)]
    assert answers == [401] * auth.MAX_FAILURES_PER_NAME + [429, 429]
    models.SignInFailure.delete().execute()
    cookies = sign_in_as_carol(BOSS_PASSWORD).cookies
    answers = [requests.get(server.url + "/keys", cookies=cookies, headers=fresh, timeout=10,
                            allow_redirects=False).status_code for _ in range(6)]
    assert answers == [200] * 6


def test_an_admin_adds_a_channel_sees_its_health_and_brings_it_back(screens, server, upstream, bank, tmp_path):
    from playwright.sync_api import expect
    money.create_account("boss", is_admin=True, password=BOSS_PASSWORD)
    token = bank.key(bank.account("10"))
    page = screens.page
    page.goto(server.url + "/signin")
    sign_in(page, "boss", BOSS_PASSWORD)
    page.click("text=渠道")
    expect(page.locator("h1")).to_have_text("渠道")
    expect(page.locator('tr[data-name="deepseek"]')).to_contain_text("DEEPSEEK_API_KEY")

    # A second account at the same upstream, tried first; its key is typed once, then masked.
    page.fill("#add-channel input[name=name]", "backup")
    page.fill("#add-channel input[name=base_url]", upstream.url)
    page.fill("#add-channel input[name=api_key]", UPSTREAM_KEY)
    page.fill("#add-channel input[name=priority]", "5")
    page.click("#add-channel button")
    expect(page.locator(".notice.success")).to_contain_text("渠道 backup 已添加")
    backup = page.locator('tr[data-name="backup"]')
    expect(backup).to_contain_text("sk-…cret")
    assert UPSTREAM_KEY not in page.content()

    # It serves; then the upstream says the balance is gone, and both channels stop at once.
    assert requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token),
                         timeout=10).status_code == 200
    upstream.behave(status=402, message="Insufficient Balance", code="insufficient_balance")
    assert requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token),
                         timeout=10).status_code == 502
    upstream.behave()
    page.reload()
    expect(backup.locator(".channel-state")).to_contain_text("自动停用")
    expect(backup.locator(".channel-state")).to_contain_text("HTTP 402 insufficient_balance")
    expect(backup.locator(".success")).to_contain_text("50% (1/2)")
    expect(backup.locator(".last-error")).to_contain_text("HTTP 402")
    screens.shoot("channels")

    # The admin brings it back and edits it; the key stays stored, shown masked only.
    backup.locator("button:has-text('启用')").click()
    expect(page.locator(".notice.success")).to_contain_text("渠道 backup 已启用")
    expect(backup.locator(".channel-state")).to_have_text("启用")
    backup.locator("a:has-text('编辑')").click()
    expect(page.locator("input[name=api_key]")).to_have_attribute("placeholder", "留空则保留 sk-…cret")
    screens.shoot("channel-edit")
    page.fill("input[name=weight]", "3")
    page.click("#edit-channel button:has-text('保存')")
    expect(page.locator(".notice.success")).to_contain_text("渠道 backup 已保存")
    expect(backup).to_contain_text("5 / 3")
    assert requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token),
                         timeout=10).status_code == 200
    assert UPSTREAM_KEY not in server.log_text()
    print(f"\nscreenshots: {tmp_path}")
