"""The web pages: `/` (the API documentation), sign-in, and what every page shares — sessions,
CSRF checks, security headers, language, error pages. The key page is web_keys.py, the admin
pages web_admin.py; both are nested in the `pages` blueprint, so its checks cover them."""
import logging
from datetime import datetime, timezone

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.exceptions import HTTPException

import i18n
import models
import web_admin
import web_auth
import web_keys
from i18n import t
from web_auth import current_account

log = logging.getLogger("qingcheng")
pages = Blueprint("pages", __name__)
pages.register_blueprint(web_keys.keys)
pages.register_blueprint(web_admin.admin)
pages.before_request(web_auth.check_csrf)
pages.add_app_template_filter(models.yuan, "yuan")

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}
LANGUAGE_COOKIE_SECONDS = 365 * 86400
KEY_PLACEHOLDER = "sk-qc-YOUR_KEY"
ERROR_TEXT = {400: "error_400", 403: "error_403", 404: "error_404"}

# (id, title, highlight language, template under templates/examples/)
EXAMPLES = (("curl", "ex_curl", "bash", "curl.sh"), ("python", "ex_python", "python", "python.py"),
            ("openai", "ex_openai", "python", "openai.py"), ("fetch", "ex_fetch", "javascript", "fetch.js"),
            ("stream", "ex_stream", "javascript", "stream.js"))
REQUEST_HEADERS = (("Content-Type", "yes", "h_content_type"), ("X-API-Key", "one_of_two", "h_api_key"),
                   ("Authorization: Bearer", "one_of_two", "h_authorization"),
                   ("X-AI-Provider", "no", "h_provider"), ("X-Request-ID", "no", "h_request_id"))
BODY_PARAMETERS = (("model", "string", "yes", "p_model"), ("messages", "array", "yes", "p_messages"),
                   ("temperature", "number", "no", "p_temperature"),
                   ("max_tokens", "integer", "no", "p_max_tokens"), ("stream", "boolean", "no", "p_stream"),
                   ("stream_options", "object", "no", "p_stream_options"))
ERRORS = ((400, "invalid_request · unknown_provider · model_not_found", "e_400"),
          (401, "invalid_api_key", "e_401"), (403, "insufficient_balance", "e_403"),
          (413, "request_too_large", "e_413"), (429, "rate_limit_exceeded", "e_429"),
          (429, "upstream_rate_limited", "e_429_upstream"), (500, "internal_error", "e_500"),
          (502, "upstream_error", "e_502"), (503, "provider_not_configured", "e_503"),
          (504, "upstream_timeout", "e_504"))


def register(app):
    app.config.update(SESSION_COOKIE_NAME="qingcheng_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax")
    app.session_interface = web_auth.SessionInterface()
    app.after_request(add_security_headers)
    app.register_blueprint(pages)


def add_security_headers(response):
    """On every response, the pages', the static files' and the API's alike."""
    response.headers.update(SECURITY_HEADERS)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    return response


@pages.after_request
def page_headers(response):
    response.headers["Cache-Control"] = "no-store"
    asked = request.args.get("lang")
    if asked in i18n.LANGUAGES:
        response.set_cookie("lang", asked, max_age=LANGUAGE_COOKIE_SECONDS, httponly=True,
                            samesite="Lax", secure=request.is_secure)
    return response


@pages.context_processor
def template_context():
    lang = i18n.language()
    other = next(code for code in i18n.LANGUAGES if code != lang)
    return {"t": t, "lang": lang, "account": current_account(), "csrf_token": web_auth.csrf_token,
            "other_lang": other, "language_url": language_url(other)}


def language_url(lang):
    """This page in `lang`; None where a reload would repeat a form (the page came from a POST)."""
    if request.method != "GET" or request.endpoint is None:
        return None
    return url_for(request.endpoint, **(request.view_args or {}),
                   **{**request.args.to_dict(), "lang": lang})


@pages.errorhandler(HTTPException)
def error_page(error):
    if error.code is None:
        return error
    return render_template("error.html", status=error.code,
                           message=t(ERROR_TEXT.get(error.code, "error_other"))), error.code


@pages.errorhandler(Exception)
def fault_page(error):
    log.exception("internal error on %s %s", request.method, request.path)
    return render_template("error.html", status=500, message=t("error_500")), 500


@pages.errorhandler(web_keys.FormError)
def form_error(error):
    """Every form posts to the page it sits on: say what was wrong there."""
    flash(str(error), "error")
    return redirect(request.path, 303)


@pages.app_template_filter("price")
def price_text(micro):
    """元 without trailing zeros: prices read better as 2 or 0.5 than 2.000000."""
    return models.yuan(micro).rstrip("0").rstrip(".")


@pages.app_template_filter("when")
def when(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


@pages.app_template_filter("iso")
def iso(timestamp):
    return datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@pages.get("/")
def docs():
    configured = [name for name, up in current_app.config["UPSTREAMS"].items() if up.api_key]
    prices = models.prices_for(configured)
    sample = prices[0] if prices else None
    values = dict(base_url=request.host_url.rstrip("/"), key=key_placeholder(current_account()),
                  provider=sample.provider if sample else "deepseek",
                  model=sample.model if sample else "deepseek-chat", prompt=t("example_prompt"))
    examples = [dict(id=name, title=t(title), language=language,
                     code=render_template(f"examples/{template}", **values))
                for name, title, language, template in EXAMPLES]
    return render_template("docs.html", prices=prices, examples=examples, headers=REQUEST_HEADERS,
                           parameters=BODY_PARAMETERS, errors=ERRORS, **values)


def key_placeholder(account):
    """The signed-in user's newest active key as `sk-qc-AbCd1234…`: they know which key to paste."""
    active = [key for key in models.keys_of(account.id) if key.state == "active"] if account else []
    return active[0].prefix + "…" if active else KEY_PLACEHOLDER


@pages.route("/signin", methods=["GET", "POST"])
def sign_in():
    if request.method == "GET":
        return render_template("sign_in.html", name="")
    name, address = request.form.get("name", "").strip()[:255], request.remote_addr or ""
    if web_auth.throttled(name, address):
        minutes = web_auth.THROTTLE_WINDOW // 60
        return (render_template("sign_in.html", name=name, error=t("sign_in_throttled", minutes=minutes)),
                429, {"Retry-After": str(web_auth.THROTTLE_WINDOW)})
    account = web_auth.check_credentials(name, request.form.get("password", ""), address)
    if account is None:
        return render_template("sign_in.html", name=name, error=t("sign_in_failed")), 401
    web_auth.sign_in(account)
    home = url_for("pages.admin.accounts" if account.is_admin else "pages.keys.index")
    return redirect(web_auth.safe_next(request.args.get("next")) or home, 303)


@pages.post("/signout")
def sign_out():
    web_auth.sign_out()
    flash(t("signed_out"), "success")
    return redirect(url_for("pages.sign_in"), 303)
