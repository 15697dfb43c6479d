"""The admin pages (admins only; anyone else gets 403): accounts — create, top up, see their keys
and usage — and the prices per provider (a self-hosted channel's name included) and model."""
import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

import money
import routing
import validation
from models import Account, IntegrityError, Price
from web import auth, queries
from web.auth import current_account
from web.forms import FormError, amount, checked, page_number, whole_number
from web.i18n import t
from web.keys import account_view

log = logging.getLogger("qingcheng")
admin = Blueprint("admin", __name__, url_prefix="/admin")
admin.before_request(auth.require_admin)

# (field, label, required): a blank cache-write price means the cache-miss price.
PRICE_FIELDS = (("input", "col_input", True), ("cached_input", "col_cached", True),
                ("cache_write", "col_cache_write", False), ("output", "col_output", True))


@admin.get("")
def accounts():
    return render_template("admin_accounts.html", accounts=queries.accounts_overview())


@admin.post("")
def create_account():
    form = request.form
    name = checked(validation.account_name, form.get("name", "").strip(), t("invalid_name"))
    password = checked(validation.password, form.get("password", ""),
                       t("password_too_short", n=validation.MIN_PASSWORD))
    balance = amount(form.get("balance", ""), t("opening_balance"))
    try:
        money.create_account(name, balance=balance, is_admin=bool(form.get("is_admin")),
                             password=password)
    except IntegrityError:
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
    value = amount(request.form.get("amount", ""), t("amount"), positive=True)
    note = checked(validation.note, request.form.get("note", ""), t("note_too_long", n=validation.MAX_NOTE))
    if not note:
        raise FormError(t("note_required"))
    money.topup(owner, value, note)
    log.info("web: admin %s topped up account %s by %s", current_account().name, owner.name,
             money.yuan(value))
    flash(t("topped_up", name=owner.name, amount=money.yuan(value)), "success")
    return redirect(url_for(".account", account_id=owner.id), 303)


@admin.get("/prices")
def prices():
    editing = Price.get_or_none((Price.provider == request.args.get("provider", ""))
                                & (Price.model == request.args.get("model", "")))
    providers = routing.provider_names()
    return render_template("admin_prices.html", prices=Price.of_providers(providers),
                           providers=providers, editing=editing, fields=PRICE_FIELDS)


@admin.post("/prices")
def set_price():
    form = request.form
    provider, model = form.get("provider", ""), form.get("model", "").strip()
    checked(lambda name: validation.provider(name, routing.provider_names()), provider,
            t("unknown_provider"))
    checked(validation.model_name, model, t("invalid_model"))
    fields = {name: amount(form.get(name, ""), t(label)) if required or form.get(name, "").strip()
              else None for name, label, required in PRICE_FIELDS}
    fields["max_output"] = whole_number(form.get("max_output", ""), t("col_max_output"), required=True)
    Price.set(provider, model, **fields)
    log.info("web: admin %s set the price of %s/%s", current_account().name, provider, model)
    flash(t("price_saved", provider=provider, model=model), "success")
    return redirect(url_for(".prices"), 303)
