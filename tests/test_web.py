"""The web pages' common ground through Flask's test client: the documentation page, languages,
sign-in and sign-out, sessions, CSRF and the security headers. Helpers here serve test_web_*.py."""
import re

import pytest

from helpers import MODEL
from pages import PASSWORD, SESSION_COOKIE, csrf_token, page, post_form, sign_in
from web import auth, docs, docs_text, i18n, pages_text
from models import Account, ApiKey, LedgerEntry, Price, SignInFailure

# --- the documentation page ---------------------------------------------------------------------

def test_docs_page_is_public_chinese_first_and_points_at_this_server(client):
    html = page(client, "/")
    assert '<html lang="zh-CN">' in html and "API 文档" in html
    assert "http://localhost/v1/chat/completions" in html
    assert docs.KEY_PLACEHOLDER in html and MODEL in html
    assert 'href="/keys"' in html


def test_docs_page_has_the_headers_parameters_and_every_error_of_the_spec(client):
    html = page(client, "/")
    for name in ("X-API-Key", "Authorization: Bearer", "X-AI-Provider", "model", "messages",
                 "temperature", "max_tokens", "stream_options"):
        assert f"<code>{name}</code>" in html
    for status, code in ((400, "invalid_request"), (401, "invalid_api_key"), (403, "insufficient_balance"),
                         (413, "request_too_large"), (429, "rate_limit_exceeded"),
                         (429, "upstream_rate_limited"), (500, "internal_error"),
                         (502, "upstream_error"), (504, "upstream_timeout")):
        assert re.search(rf">{status}</span></td><td><code>[^<]*{code}", html), code


def test_every_example_is_there_with_a_copy_button(client):
    html = page(client, "/")
    for example in ("curl", "python", "openai", "fetch", "stream"):
        assert f'<code id="code-{example}"' in html
        assert f'data-copy="code-{example}"' in html
    assert "response.body.getReader()" in html


def test_models_and_prices_come_from_the_database(client):
    Price.set("deepseek", "deepseek-v4-pro", input=4_000_000, cached_input=1_000_000,
              output=16_500_000, max_output=8192)
    Price.set("qwen", "qwen3-max", input=2_500_000, cached_input=500_000, cache_write=3_125_000,
              output=10_000_000, max_output=4096)
    html = page(client, "/")
    row = re.search(r"deepseek-v4-pro</code></td>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r">([\d.,]+)</td>", row) == ["4", "1", "4", "16.5", "8,192"]  # write: the miss price
    row = re.search(r"qwen3-max</code></td>(.*?)</tr>", html, re.S).group(1)
    assert re.findall(r">([\d.,]+)</td>", row) == ["2.5", "0.5", "3.125", "10", "4,096"]
    Price.delete().where(Price.model == "deepseek-v4-pro").execute()
    assert "deepseek-v4-pro" not in page(client, "/")


def test_models_of_a_provider_without_a_key_are_not_listed(app, client):
    Price.set("zhipu", "glm-5.1", input=6_000_000, cached_input=1_200_000, output=24_000_000,
              max_output=8192)
    assert "glm-5.1" in page(client, "/")
    del app.config["UPSTREAMS"]["zhipu"]
    assert "glm-5.1" not in page(client, "/")


@pytest.mark.parametrize("lang, lead", [("zh", "用 X-AI-Provider 请求头指定提供方"),
                                        ("en", "Name the provider in the X-AI-Provider header")])
def test_the_page_shows_how_to_pick_each_configured_provider(app, client, lang, lead):
    for provider, model in (("moonshot", "kimi-k3"), ("siliconflow", "deepseek-ai/DeepSeek-V3.1")):
        Price.set(provider, model, input=1, cached_input=1, output=1, max_output=8)
    html = page(client, f"/?lang={lang}")
    section = re.search(r'<section id="providers".*?</section>', html, re.S).group(0)
    assert lead in section
    for provider, model in (("deepseek", MODEL), ("moonshot", "kimi-k3"),
                            ("siliconflow", "deepseek-ai/DeepSeek-V3.1")):
        assert f"<code>X-AI-Provider: {provider}</code>" in section
        assert f'<code>"model": "{provider}/{model}"</code>' in section
    assert "X-AI-Provider: qwen" not in section  # configured, but nothing priced


def test_the_x_ai_provider_text_names_a_priced_model(client):
    Price.delete().execute()
    Price.set("deepseek", "deepseek-v4-pro", input=4_000_000, cached_input=1_000_000,
              output=16_500_000, max_output=8192)
    html = page(client, "/?lang=en")
    row = re.search(r"<code>X-AI-Provider</code>.*?</tr>", html, re.S).group(0)
    assert "(deepseek-v4-pro, or deepseek/deepseek-v4-pro)" in row


def test_signed_in_examples_show_the_users_key_prefix_never_the_key(client, bank, user):
    key, token = ApiKey.issue(user, label="laptop")
    sign_in(client, user)
    html = page(client, "/")
    assert f"X-API-Key: {key.prefix}…" in html
    assert token not in html and key.digest not in html


# --- language -----------------------------------------------------------------------------------

def test_the_switch_picks_english_and_the_choice_is_remembered(client):
    response = client.get("/?lang=en")
    assert '<html lang="en">' in response.get_data(as_text=True)
    assert "lang=en" in response.headers["Set-Cookie"]
    assert "API documentation" in page(client, "/")
    assert "API 文档" in page(client, "/?lang=zh")


@pytest.mark.parametrize("accept, expected", [("en-US,en;q=0.9", "en"), ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
                                              ("fr-FR", "zh-CN"), ("", "zh-CN")])
def test_the_browsers_language_is_followed(client, accept, expected):
    html = client.get("/", headers={"Accept-Language": accept}).get_data(as_text=True)
    assert f'<html lang="{expected}">' in html


def test_no_text_is_named_in_both_tables():
    assert not set(docs_text.STRINGS) & set(pages_text.STRINGS)


def test_both_languages_have_every_text():
    assert all(len(pair) == 2 and all(pair) for pair in i18n.STRINGS.values())


# --- security headers and markup that CSP allows ------------------------------------------------

@pytest.mark.parametrize("path", ["/", "/signin", "/keys", "/static/site.css", "/healthz", "/nowhere"])
def test_every_response_has_the_security_headers(client, path):
    headers = client.get(path).headers
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Strict-Transport-Security" not in headers


def test_https_gets_hsts_and_a_secure_session_cookie(client, user):
    response = client.get("/signin", base_url="https://localhost")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    response = client.post("/signin", base_url="https://localhost",
                           data={"csrf": csrf_token(client), "name": "alice", "password": PASSWORD})
    cookie = response.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_the_session_cookie_is_httponly_and_lax_over_http(client, user):
    cookie = sign_in(client, user).headers["Set-Cookie"]
    assert cookie.startswith(SESSION_COOKIE + "=")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie


def test_pages_have_no_inline_script_style_or_handler(client, user, admin):
    sign_in(client, admin)
    for path in ("/", "/keys", "/admin", f"/admin/accounts/{user.id}", "/admin/prices"):
        html = page(client, path)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert not re.search(r"<style|\sstyle=|\son[a-z]+=", html), path


def test_pages_are_not_cached(client):
    assert client.get("/").headers["Cache-Control"] == "no-store"


# --- signing in and out -------------------------------------------------------------------------

def test_sign_in_rotates_the_session(client, user):
    with client.session_transaction() as session:
        session.update(csrf="planted-token", planted="by an attacker")
    response = client.post("/signin", data={"csrf": "planted-token", "name": "alice", "password": PASSWORD})
    assert response.headers["Location"] == "/keys"
    with client.session_transaction() as session:
        assert "planted" not in session
        assert session["csrf"] != "planted-token" and len(session["csrf"]) >= 32
        assert auth.web_session_account(session["sid"]).id == user.id


def test_sign_in_goes_back_to_the_page_asked_for_on_this_site_only(client, user):
    response = client.get("/keys?page=2")
    assert response.status_code == 302 and response.headers["Location"] == "/signin?next=/keys?page%3D2"
    assert post_form(client, "/signin?next=/keys?page%3D2", name="alice",
                     password=PASSWORD).headers["Location"] == "/keys?page=2"


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil.example",
                                    "/\t/evil.example", "javascript:alert(1)"])
def test_sign_in_never_redirects_off_the_site(client, user, target):
    response = post_form(client, "/signin?" + "next=" + target.replace("\t", "%09"), name="alice",
                         password=PASSWORD)
    assert response.headers["Location"] == "/keys"


def test_admins_land_on_the_accounts_page(client, admin):
    assert sign_in(client, admin).headers["Location"] == "/admin"


def test_a_wrong_password_and_an_unknown_name_get_the_same_answer(client, user):
    wrong = post_form(client, "/signin", name="alice", password="not the password")
    unknown = post_form(client, "/signin", name="mallory", password="not the password")
    assert wrong.status_code == unknown.status_code == 401
    assert "账户名或密码不正确" in wrong.get_data(as_text=True)
    assert (wrong.get_data(as_text=True).replace("alice", "")
            == unknown.get_data(as_text=True).replace("mallory", ""))
    with client.session_transaction() as session:
        assert "sid" not in session


def test_failed_sign_ins_are_throttled_per_name_and_address(app, user):
    attacker, neighbour = app.test_client(), app.test_client()
    for _ in range(auth.MAX_FAILURES_PER_NAME):
        assert post_form(attacker, "/signin", name="alice", password="guess").status_code == 401
    blocked = post_form(attacker, "/signin", name="alice", password=PASSWORD)
    assert blocked.status_code == 429 and blocked.headers["Retry-After"] == str(auth.THROTTLE_WINDOW)
    assert "登录失败次数过多" in blocked.get_data(as_text=True)
    other_address = neighbour.post("/signin", environ_base={"REMOTE_ADDR": "10.1.2.3"}, data={
        "csrf": csrf_token(neighbour), "name": "alice", "password": PASSWORD})
    assert other_address.status_code == 303


def test_one_address_spraying_many_names_is_throttled(client, user):
    for n in range(auth.MAX_FAILURES_PER_ADDRESS):
        post_form(client, "/signin", name=f"name{n}", password="guess")
    assert SignInFailure.select().count() == auth.MAX_FAILURES_PER_ADDRESS
    assert post_form(client, "/signin", name="alice", password=PASSWORD).status_code == 429


def test_a_successful_sign_in_forgets_the_failures(client, user):
    for _ in range(auth.MAX_FAILURES_PER_NAME - 1):
        post_form(client, "/signin", name="alice", password="guess")
    sign_in(client, user)
    assert SignInFailure.select().count() == 0


def test_sign_out_ends_the_session_on_the_server(client, user):
    sign_in(client, user)
    stolen = client.get_cookie(SESSION_COOKIE).value
    assert post_form(client, "/signout").headers["Location"] == "/signin"
    client.set_cookie(SESSION_COOKIE, stolen)
    assert client.get("/keys").status_code == 302


def test_an_account_without_a_password_cannot_sign_in(client, bank):
    bank.account("1", name="cli-only")
    assert post_form(client, "/signin", name="cli-only", password="").status_code == 401


def test_passwords_are_stored_with_a_slow_kdf_and_never_logged(client, user, caplog):
    assert Account.get_by_id(user.id).password_hash.startswith("scrypt:")
    post_form(client, "/signin", name="alice", password="a wrong password")
    sign_in(client, user)
    assert "a wrong password" not in caplog.text and PASSWORD not in caplog.text
    assert "web sign-in failed for account alice" in caplog.text


# --- CSRF on every state-changing form ----------------------------------------------------------

def state_changing_forms(user):
    """(path, form) of every POST the pages accept; `{key}` is a key of the signed-in admin."""
    return [("/signin", {"name": "alice", "password": PASSWORD}), ("/signout", {}),
            ("/password", {"current_password": PASSWORD, "new_password": "a new password",
                           "repeat_password": "a new password"}),
            ("/keys", {"label": "x"}), ("/keys/{key}", {"label": "renamed"}), ("/keys/{key}/revoke", {}),
            ("/admin", {"name": "eve", "password": PASSWORD, "balance": "1"}),
            (f"/admin/accounts/{user.id}", {"amount": "1", "note": "x"}),
            ("/admin/prices", {"provider": "deepseek", "model": "m", "input": "1", "cached_input": "1",
                               "output": "1", "max_output": "10"})]


@pytest.mark.parametrize("token", [None, "", "forged-token"])
def test_a_post_without_the_sessions_csrf_token_is_refused(client, user, admin, token):
    key, _ = ApiKey.issue(admin, label="mine")
    sign_in(client, admin)
    before = (ApiKey.select().count(), Account.select().count(), Price.select().count(),
              LedgerEntry.select().count())
    for path, form in state_changing_forms(user):
        data = form if token is None else {**form, "csrf": token}
        response = client.post(path.format(key=key.id), data=data)
        assert response.status_code == 400, path
        assert "表单可能已过期" in response.get_data(as_text=True)
    assert (ApiKey.select().count(), Account.select().count(), Price.select().count(),
            LedgerEntry.select().count()) == before
    assert ApiKey.get_by_id(key.id).label == "mine" and not ApiKey.get_by_id(key.id).revoked
    assert Account.get_by_id(admin.id).check_password(PASSWORD)
    assert client.get("/keys").status_code == 200  # still signed in
