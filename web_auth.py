"""Who is signed in to the web pages: sessions kept in the database, CSRF tokens, throttled sign-in."""
import hmac
import logging
import re
import secrets
from functools import cache

from flask import abort, g, redirect, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

import models
from models import Account

log = logging.getLogger("qingcheng")

THROTTLE_WINDOW = 15 * 60
MAX_FAILURES_PER_NAME = 5       # from one address
MAX_FAILURES_PER_ADDRESS = 30   # whatever the names: slows password spraying
LOCAL_PATH = re.compile(r"^/(?![/\\])[\w\-./?=&%]*$")


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session, marked `Secure` whenever the page came over HTTPS."""

    def get_cookie_secure(self, app):
        return super().get_cookie_secure(app) or request.is_secure

    def open_session(self, app, request):
        if request.path.startswith("/v1/"):
            return None  # the API authenticates by key: no cookie to verify on its hot path
        return super().open_session(app, request)


def current_account():
    """The signed-in account, or None."""
    if "web_account" not in g:
        token = session.get("sid")
        g.web_account = models.web_session_account(token) if token else None
    return g.web_account


def sign_in(account):
    """A fresh session for `account`: nothing of the session before survives (no fixation)."""
    session.clear()
    session["sid"] = models.open_web_session(account)
    session["csrf"] = secrets.token_urlsafe(32)
    g.web_account = account


def sign_out():
    if "sid" in session:
        models.close_web_session(session["sid"])
    session.clear()
    g.web_account = None


def check_credentials(name, password, address):
    """The account that `name` and `password` sign in to, or None (and the failure is counted)."""
    account = Account.get_or_none(Account.name == name)
    if account is None or not account.password_hash:
        check_password_hash(decoy_hash(), password)  # as slow as a real check: names stay secret
    elif account.check_password(password):
        models.forget_sign_in_failures(name, address)
        return account
    models.record_sign_in_failure(name, address, THROTTLE_WINDOW)
    log.warning("web sign-in failed for %s from %s",
                f"account {account.name}" if account else "an unknown name", address)
    return None


@cache
def decoy_hash():
    return generate_password_hash(secrets.token_hex(16))


def throttled(name, address):
    per_name, per_address = models.sign_in_failures(name, address, THROTTLE_WINDOW)
    return per_name >= MAX_FAILURES_PER_NAME or per_address >= MAX_FAILURES_PER_ADDRESS


def csrf_token():
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(32)
    return session["csrf"]


def check_csrf():
    """Every state-changing request of the pages must carry the session's CSRF token."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    kept = session.get("csrf", "")
    if not (kept and hmac.compare_digest(request.form.get("csrf", ""), kept)):
        abort(400)


def require_sign_in():
    if current_account() is None:
        return redirect(url_for("pages.sign_in", next=request.full_path.rstrip("?")))
    return None


def require_admin():
    signed_out = require_sign_in()
    if signed_out is None and not current_account().is_admin:
        abort(403)
    return signed_out


def safe_next(target):
    """`target` when it is a path on this site, else None: no open redirect to another host."""
    return target if target and LOCAL_PATH.match(target) else None
