"""The web pages, as blueprints side by side: the API documentation (`docs`), signing in
(`auth`), the key page (`keys`), the admin pages (`admin`) and the channel page (`channels`). What they share is here: sessions,
CSRF checks, security headers, the page language, template filters and error pages."""
from pathlib import Path

from flask import flash, redirect, render_template, request, url_for

import money
import validation
from web import admin, auth, channels, docs, forms, i18n, keys
from web.i18n import t

BLUEPRINTS = (docs.docs, auth.auth, keys.keys, admin.admin, channels.admin_channels)
PAGES = {blueprint.name for blueprint in BLUEPRINTS}
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; object-src 'none'; "
                               "base-uri 'none'; form-action 'self'; frame-ancestors 'self'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    "Referrer-Policy": "same-origin",
}
LANGUAGE_COOKIE_SECONDS = 365 * 86400
ERROR_TEXT = {400: "error_400", 403: "error_403", 404: "error_404"}


def asset_dir(name):
    """`templates` or `static`: inside this package when installed, at the top of a checkout."""
    installed = Path(__file__).parent / name
    return str(installed if installed.is_dir() else Path(__file__).parent.parent / name)


def register(app):
    app.config.update(SESSION_COOKIE_NAME="qingcheng_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax")
    app.session_interface = auth.SessionInterface()
    app.before_request(check_csrf)
    app.after_request(add_headers)
    app.context_processor(template_context)
    app.register_error_handler(forms.FormError, form_error)
    for name, function in (("yuan", money.yuan), ("price", money.plain_yuan), ("when", when),
                           ("iso", validation.utc), ("datetime_local", datetime_local)):
        app.add_template_filter(function, name)
    for blueprint in BLUEPRINTS:
        app.register_blueprint(blueprint)


def is_page():
    return request.blueprint in PAGES


def check_csrf():
    if is_page():
        auth.check_csrf()


def add_headers(response):
    """Security headers on every response, the pages', the static files' and the API's alike;
    the pages are never cached and remember a language asked for."""
    response.headers.update(SECURITY_HEADERS)
    if request.is_secure:
        response.headers["Strict-Transport-Security"] = "max-age=31536000"
    if is_page():
        response.headers["Cache-Control"] = "no-store"
        asked = request.args.get("lang")
        if asked in i18n.LANGUAGES:
            response.set_cookie("lang", asked, max_age=LANGUAGE_COOKIE_SECONDS, httponly=True,
                                samesite="Lax", secure=request.is_secure)
    return response


def template_context():
    lang = i18n.language()
    other = next(code for code in i18n.LANGUAGES if code != lang)
    return {"t": t, "lang": lang, "account": auth.current_account(), "csrf_token": auth.csrf_token,
            "other_lang": other, "language_url": language_url(other)}


def language_url(lang):
    """This page in `lang`; None where a reload would repeat a form (the page came from a POST)."""
    if request.method != "GET" or request.endpoint is None:
        return None
    return url_for(request.endpoint, **(request.view_args or {}),
                   **{**request.args.to_dict(), "lang": lang})


def error_page(status):
    """The site's own page for an error status, in the visitor's language."""
    text = ERROR_TEXT.get(status, "error_500" if status >= 500 else "error_other")
    return render_template("error.html", status=status, message=t(text)), status


def form_error(error):
    """Every form posts to the page it sits on: say what was wrong there."""
    flash(str(error), "error")
    return redirect(request.path, 303)


def when(timestamp):
    return validation.utc(timestamp, "%Y-%m-%d %H:%M UTC")


def datetime_local(timestamp):
    """A unix time as the value of an `<input type="datetime-local">`, in UTC."""
    return validation.utc(timestamp, "%Y-%m-%dT%H:%M")
