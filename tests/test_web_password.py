"""Changing one's own password on `/password` through Flask's test client: the current one is
required, the rule is the command line's, and every other session of the account ends."""
import logging

import pytest

from pages import PASSWORD, SESSION_COOKIE, page, post_form, sign_in
from models import Account, SignInFailure
from web import auth

NEW_PASSWORD = "a brand new passphrase"


def change(client, current=PASSWORD, new=NEW_PASSWORD, repeat=None):
    return post_form(client, "/password", current_password=current, new_password=new,
                     repeat_password=new if repeat is None else repeat)


def signed_in_client(app, account):
    client = app.test_client()
    sign_in(client, account)
    return client


def test_the_page_needs_a_signed_in_user(client, user):
    response = client.get("/password")
    assert response.status_code == 302 and response.headers["Location"] == "/signin?next=/password"
    assert change(client).status_code == 302
    assert Account.get_by_id(user.id).check_password(PASSWORD)


def test_the_page_asks_for_the_current_password_and_the_new_one_twice(client, user):
    sign_in(client, user)
    html = page(client, "/password?lang=en")
    for field in ("current_password", "new_password", "repeat_password"):
        assert f'name="{field}"' in html
    assert 'autocomplete="new-password" minlength="8"' in html and "Change password" in html


def test_a_new_password_replaces_the_old_one(client, user):
    sign_in(client, user)
    response = change(client)
    assert response.status_code == 303 and response.headers["Location"] == "/keys"
    assert "密码已修改" in page(client, "/keys")
    account = Account.get_by_id(user.id)
    assert account.check_password(NEW_PASSWORD) and not account.check_password(PASSWORD)


def test_every_other_session_ends_and_this_one_goes_on(app, client, user, bank):
    other = bank.account(name="bob", password=PASSWORD)
    laptop, phone, bobs = (signed_in_client(app, user), signed_in_client(app, user),
                           signed_in_client(app, other))
    stolen = laptop.get_cookie(SESSION_COOKIE).value
    change(laptop)
    assert phone.get("/keys").status_code == 302
    assert laptop.get("/keys").status_code == 200
    assert laptop.get_cookie(SESSION_COOKIE).value != stolen
    client.set_cookie(SESSION_COOKIE, stolen)
    assert client.get("/keys").status_code == 302  # the session from before the change is gone
    assert bobs.get("/keys").status_code == 200


def test_a_wrong_current_password_changes_nothing_and_counts_as_a_failed_sign_in(app, client, user):
    sign_in(client, user)
    other = signed_in_client(app, user)
    response = change(client, current="not my password")
    assert response.status_code == 303 and response.headers["Location"] == "/password"
    assert "当前密码不正确" in page(client, "/password")
    assert Account.get_by_id(user.id).check_password(PASSWORD)
    assert other.get("/keys").status_code == 200
    assert SignInFailure.select().count() == 1


def test_guessing_the_current_password_is_throttled_like_signing_in(client, user):
    sign_in(client, user)
    for _ in range(auth.MAX_FAILURES_PER_NAME):
        change(client, current="a guess")
    change(client)
    assert "登录失败次数过多" in page(client, "/password")
    assert Account.get_by_id(user.id).check_password(PASSWORD)


@pytest.mark.parametrize("new, repeat, message", [("seven c", None, "密码至少 8 个字符"),
                                                  (NEW_PASSWORD, NEW_PASSWORD + "!", "两次输入的新密码不一致")])
def test_a_new_password_that_is_too_short_or_not_repeated_is_refused(client, user, new, repeat, message):
    sign_in(client, user)
    change(client, new=new, repeat=repeat)
    assert message in page(client, "/password")
    assert Account.get_by_id(user.id).check_password(PASSWORD)


@pytest.mark.parametrize("new", ["1234567", "12345678", " 7 + sp", "八个字符八个字符"])
def test_the_page_and_the_command_line_accept_the_same_passwords(app, client, user, bank, new):
    sign_in(client, user)
    change(client, new=new)
    on_the_page = Account.get_by_id(user.id).check_password(new)
    bank.account(name="bob")
    result = app.test_cli_runner().invoke(args=["accounts", "password", "bob", "--password-stdin"],
                                          input=new + "\n")
    assert on_the_page == (result.exit_code == 0) == (len(new) >= 8)


def test_passwords_are_never_logged(client, user, caplog):
    caplog.set_level(logging.INFO, "qingcheng")
    sign_in(client, user)
    change(client, current="a wrong password")
    change(client)
    assert "a wrong password" not in caplog.text and NEW_PASSWORD not in caplog.text
    assert PASSWORD not in caplog.text
    assert "web: account alice changed its password" in caplog.text
