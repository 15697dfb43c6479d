"""The key page `/keys` (sign-in required): an account's balance, its keys — create, edit (limits
and policies: models, budget, networks), revoke — and its usage. An id that is not one of the signed-in account's keys answers 404."""
import logging

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

import money
import validation
from models import ApiKey
from web import auth, queries
from web.auth import current_account
from web.forms import amount, checked, expiry, page_number, whole_number
from web.i18n import t

log = logging.getLogger("qingcheng")
keys = Blueprint("keys", __name__)
keys.before_request(auth.require_sign_in)

PER_PAGE = 20
CHART_DAYS = 30
CHART_WIDTH, CHART_HEIGHT = 300, 100  # the SVG's viewBox; CSS stretches it to the page
LIMITS = ("rpm", "tpm", "concurrency")


@keys.get("/keys")
def index():
    return render_template("keys.html", **account_view(current_account(), page_number()))


@keys.post("/keys")
def create():
    account = current_account()
    key, token = ApiKey.issue(account, **key_fields(request.form))
    log.info("web: account %s created key %s", account.name, key.prefix)
    return render_template("key_created.html", key=key, token=token)


@keys.get("/keys/<int:key_id>")
def edit(key_id):
    return render_template("key_edit.html", key=own_key(key_id))


@keys.post("/keys/<int:key_id>")
def save(key_id):
    key = own_key(key_id)
    ApiKey.update(**key_fields(request.form)).where(ApiKey.id == key.id).execute()
    flash(t("key_saved", prefix=key.prefix), "success")
    return redirect(url_for(".index"), 303)


@keys.post("/keys/<int:key_id>/revoke")
def revoke(key_id):
    """The key stops working at once, on every worker."""
    key = own_key(key_id)
    ApiKey.revoke(key.id)
    log.info("web: account %s revoked key %s", current_account().name, key.prefix)
    flash(t("key_revoked", prefix=key.prefix), "success")
    return redirect(url_for(".index"), 303)


def own_key(key_id):
    return queries.account_key(current_account().id, key_id) or abort(404)


def key_fields(form):
    """The label, limits, expiry and policies that a key form sets."""
    fields = {name: whole_number(form.get(name, ""), t(name)) for name in LIMITS}
    label = checked(validation.label, form.get("label", ""), t("label_too_long", n=validation.MAX_LABEL))
    budget = form.get("budget", "")
    return dict(fields, label=label, expires=expiry(form.get("expires", "")),
                models=",".join(checked(validation.model_list, form.get("models", ""), t("invalid_models"))),
                ips=",".join(checked(validation.networks, form.get("ips", ""), t("invalid_networks"))),
                budget=amount(budget, t("budget")) if budget.strip() else None)


def account_view(owner, page):
    """What the key page shows of an account: balance, keys, a 30-day chart, a page of requests."""
    days = queries.daily_usage(owner.id, CHART_DAYS)
    requests, pages = queries.usage_page(owner.id, page, PER_PAGE)
    costs, tokens = [cost for _, cost, _ in days], [used for *_, used in days]
    return dict(owner=owner, keys=queries.keys_of(owner.id), requests=requests, page=page, pages=pages,
                spent=sum(costs), tokens=sum(tokens),
                charts=[bar_chart(t("chart_cost"), days, costs, money.yuan),
                        bar_chart(t("chart_tokens"), days, tokens, "{:,}".format)])


def bar_chart(title, days, values, show):
    """One bar a day, as geometry for an SVG of CHART_WIDTH × CHART_HEIGHT; `show` words a value."""
    top, step = max(values) or 1, CHART_WIDTH / len(values)
    bars = []
    for i, ((day, *_), value) in enumerate(zip(days, values)):
        height = max(value / top * CHART_HEIGHT, 1) if value else 0
        bars.append({"x": round(i * step + step * 0.15, 2), "width": round(step * 0.7, 2),
                     "y": round(CHART_HEIGHT - height, 2), "height": round(height, 2),
                     "tip": f"{day_label(day)}: {show(value)}"})
    ticks = [day_label(days[i][0]) for i in (0, len(days) // 2, len(days) - 1)]
    return {"title": title, "bars": bars, "top": show(max(values)), "ticks": ticks,
            "width": CHART_WIDTH, "height": CHART_HEIGHT}


def day_label(timestamp):
    return validation.utc(timestamp, "%m-%d")
