"""The admin pages (admins only; anyone else gets 403): accounts — create, top up, see their keys
and usage — and the prices per provider and model."""
import logging
import re

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

import models
import web_auth
from i18n import t
from models import Account, Price
from providers import PROVIDERS
from web_auth import current_account
from web_keys import FormError, account_view, page_number, whole_number

log = logging.getLogger("qingcheng")
admin = Blueprint("admin", __name__, url_prefix="/admin")
admin.before_request(web_auth.require_admin)

ACCOUNT_NAME = re.compile(r"^[\w.@-]{1,64}$")
MODEL_NAME = re.compile(r"^[\w./:-]{1,100}$")
MIN_PASSWORD = 8
MAX_AMOUNT = 10**9 * models.MICRO  # far below what a BIGINT column holds
PRICE_FIELDS = (("input", "col_input"), ("cached_input", "col_cached"), ("output", "col_output"))


@admin.get("")
def accounts():
    return render_template("admin_accounts.html", accounts=models.accounts_overview())


@admin.post("")
def create_account():
    form = request.form
    name, password = form.get("name", "").strip(), form.get("password", "")
    if not ACCOUNT_NAME.match(name):
        raise FormError(t("invalid_name"))
    if len(password) < MIN_PASSWORD:
        raise FormError(t("password_too_short", n=MIN_PASSWORD))
    balance = amount(form.get("balance", ""), t("opening_balance"))
    try:
        models.create_account(name, balance=balance, is_admin=bool(form.get("is_admin")),
                              password=password)
    except models.IntegrityError:
        raise FormError(t("account_exists", name=name)) from None
    log.info("web: admin %s created account %s", current_account().name, name)
    flash(t("account_created", name=name), "success")
    return redirect(url_for(".accounts"), 303)


@admin.get("/accounts/<int:account_id>")
def account(account_id):
    owner = Account.get_or_none(Account.id == account_id) or abort(404)
    return render_template("admin_account.html", **account_view(owner, page_number()))


@admin.post("/accounts/<int:account_id>")
def topup(account_id):
    owner = Account.get_or_none(Account.id == account_id) or abort(404)
    value, note = amount(request.form.get("amount", ""), t("amount")), request.form.get("note", "").strip()
    if value <= 0:
        raise FormError(t("amount_positive"))
    if not note:
        raise FormError(t("note_required"))
    models.topup(owner, value, note[:200])
    log.info("web: admin %s topped up account %s by %s", current_account().name, owner.name,
             models.yuan(value))
    flash(t("topped_up", name=owner.name, amount=models.yuan(value)), "success")
    return redirect(url_for(".account", account_id=owner.id), 303)


@admin.get("/prices")
def prices():
    editing = Price.get_or_none((Price.provider == request.args.get("provider", ""))
                                & (Price.model == request.args.get("model", "")))
    return render_template("admin_prices.html", prices=models.prices_for(PROVIDERS),
                           providers=PROVIDERS, editing=editing, fields=PRICE_FIELDS)


@admin.post("/prices")
def set_price():
    form = request.form
    provider, model = form.get("provider", ""), form.get("model", "").strip()
    if provider not in PROVIDERS:
        raise FormError(t("unknown_provider"))
    if not MODEL_NAME.match(model):
        raise FormError(t("invalid_model"))
    fields = {name: amount(form.get(name, ""), t(label)) for name, label in PRICE_FIELDS}
    fields["max_output"] = whole_number(form.get("max_output", ""), t("col_max_output"), required=True)
    models.set_price(provider, model, **fields)
    log.info("web: admin %s set the price of %s/%s", current_account().name, provider, model)
    flash(t("price_saved", provider=provider, model=model), "success")
    return redirect(url_for(".prices"), 303)


def amount(text, field):
    """Micro-yuan from a form's 元, from 0 up to a billion 元."""
    try:
        micro = models.parse_yuan(text)
        if not 0 <= micro <= MAX_AMOUNT:
            raise ValueError(text)
    except ValueError:
        raise FormError(t("invalid_amount", field=field)) from None
    return micro
