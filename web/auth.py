"""Signing in and out of the pages: sessions kept in the database, CSRF tokens, throttled sign-in,
and changing one's own password."""
import hmac
import logging
import re
import secrets
from functools import cache

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask.sessions import SecureCookieSessionInterface
from werkzeug.security import check_password_hash, generate_password_hash

import validation
from database import db
from models import Account, ApiKey, SignInFailure, WebSession, now
from web.forms import FormError, checked
from web.i18n import t

log = logging.getLogger("qingcheng")
auth = Blueprint("auth", __name__)

THROTTLE_WINDOW = 15 * 60
MAX_FAILURES_PER_NAME = 5       # from one address
MAX_FAILURES_PER_ADDRESS = 30   # whatever the names: slows password spraying
LOCAL_PATH = re.compile(r"^/(?![/\\])[\w\-./?=&%]*$")
WEB_SESSION_SECONDS = 7 * 86400


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
        g.web_account = web_session_account(token) if token else None
    return g.web_account


def sign_in(account):
    """A fresh session for `account`: nothing of the session before survives (no fixation)."""
    session.clear()
    session["sid"] = open_web_session(account)
    session["csrf"] = secrets.token_urlsafe(32)
    g.web_account = account


def sign_out():
    if "sid" in session:
        close_web_session(session["sid"])
    session.clear()
    g.web_account = None


def check_credentials(name, password, address):
    """The account that `name` and `password` sign in to, or None (and the failure is counted)."""
    account = Account.get_or_none(Account.name == name)
    if account is None or not account.password_hash:
        check_password_hash(decoy_hash(), password)  # as slow as a real check: names stay secret
    elif account.check_password(password):
        forget_sign_in_failures(name, address)
        return account
    record_sign_in_failure(name, address, THROTTLE_WINDOW)
    log.warning("web sign-in failed for %s from %s",
                f"account {account.name}" if account else "an unknown name", address)
    return None


@cache
def decoy_hash():
    return generate_password_hash(secrets.token_hex(16))


def throttled(name, address):
    per_name, per_address = sign_in_failures(name, address, THROTTLE_WINDOW)
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
        return redirect(url_for("auth.sign_in_page", next=request.full_path.rstrip("?")))
    return None


def require_admin():
    signed_out = require_sign_in()
    if signed_out is None and not current_account().is_admin:
        abort(403)
    return signed_out


def safe_next(target):
    """`target` when it is a path on this site, else None: no open redirect to another host."""
    return target if target and LOCAL_PATH.match(target) else None


@auth.route("/signin", methods=["GET", "POST"])
def sign_in_page():
    if request.method == "GET":
        return render_template("sign_in.html", name="")
    name, address = request.form.get("name", "").strip()[:255], request.remote_addr or ""
    if throttled(name, address):
        minutes = THROTTLE_WINDOW // 60
        return (render_template("sign_in.html", name=name, error=t("sign_in_throttled", minutes=minutes)),
                429, {"Retry-After": str(THROTTLE_WINDOW)})
    account = check_credentials(name, request.form.get("password", ""), address)
    if account is None:
        return render_template("sign_in.html", name=name, error=t("sign_in_failed")), 401
    sign_in(account)
    home = url_for("admin.accounts" if account.is_admin else "keys.index")
    return redirect(safe_next(request.args.get("next")) or home, 303)


@auth.post("/signout")
def sign_out_page():
    sign_out()
    flash(t("signed_out"), "success")
    return redirect(url_for("auth.sign_in_page"), 303)


@auth.route("/password", methods=["GET", "POST"])
def password_page():
    """A signed-in user's new password, given the current one; every other session ends."""
    if current_account() is None:
        return require_sign_in()
    if request.method == "GET":
        return render_template("password.html", min_length=validation.MIN_PASSWORD)
    account, form, address = current_account(), request.form, request.remote_addr or ""
    new = checked(validation.password, form.get("new_password", ""),
                  t("password_too_short", n=validation.MIN_PASSWORD))
    if new != form.get("repeat_password"):
        raise FormError(t("passwords_differ"))
    if throttled(account.name, address):
        raise FormError(t("sign_in_throttled", minutes=THROTTLE_WINDOW // 60))
    if check_credentials(account.name, form.get("current_password", ""), address) is None:
        raise FormError(t("current_password_wrong"))
    account.change_password(new)
    sign_in(account)  # the sessions were all closed: this browser gets a fresh one
    log.info("web: account %s changed its password", account.name)
    flash(t("password_changed"), "success")
    return redirect(url_for("keys.index"), 303)


def open_web_session(account):
    """A new session token for `account` (expired sessions are swept on the way)."""
    token = secrets.token_urlsafe(32)
    with db.atomic():
        WebSession.delete().where(WebSession.created < now() - WEB_SESSION_SECONDS).execute()
        WebSession.create(digest=ApiKey.digest_of(token), account=account)
    return token


def web_session_account(token):
    """The account signed in with `token`, or None when it is unknown, closed or expired."""
    row = (WebSession.select(WebSession, Account).join(Account)
           .where((WebSession.digest == ApiKey.digest_of(token))
                  & (WebSession.created > now() - WEB_SESSION_SECONDS)).first())
    return row.account if row else None


def close_web_session(token):
    WebSession.delete().where(WebSession.digest == ApiKey.digest_of(token)).execute()


def sign_in_failures(name, address, window):
    """Failed sign-ins in the last `window` seconds: (for this name from this address, from this address)."""
    recent = SignInFailure.select().where((SignInFailure.address == address)
                                          & (SignInFailure.created > now() - window))
    return recent.where(SignInFailure.name == name).count(), recent.count()


def record_sign_in_failure(name, address, window):
    with db.atomic():
        SignInFailure.delete().where(SignInFailure.created < now() - window).execute()
        SignInFailure.create(name=name, address=address)


def forget_sign_in_failures(name, address):
    SignInFailure.delete().where((SignInFailure.name == name)
                                 & (SignInFailure.address == address)).execute()


