"""The channel page `/admin/channels` (admins only): each provider's upstream accounts with their
state and recent health; add, edit, enable, disable, remove. A key is entered once and then only
shown masked; every change takes effect at once on every worker (docs/channels.md)."""
import logging
from contextlib import contextmanager

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

import channels
from credentials import CredentialsError
from models import Channel, now
from providers import PROVIDERS
from web import auth, queries
from web.auth import current_account
from web.forms import FormError
from web.i18n import t

log = logging.getLogger("qingcheng")
admin_channels = Blueprint("channels", __name__, url_prefix="/admin/channels")
admin_channels.before_request(auth.require_admin)

FIELDS = ("name", "base_url", "api_key", "priority", "weight", "models", "model_map")
EDITABLE = FIELDS[1:]


@admin_channels.get("")
def index():
    rows = list(Channel.select().order_by(Channel.provider, Channel.priority.desc(), Channel.name))
    return render_template("admin_channels.html", channels=rows, health=queries.channel_health(),
                           providers=channels.PROVIDER_TYPES, env_names=env_names(),
                           upstreams=current_app.config["UPSTREAMS"], now=now)


@admin_channels.post("")
def add():
    form = request.form
    with refusals():
        row = channels.add(current_app.extensions["keyring"], form.get("provider", ""),
                           **{name: form.get(name, "") for name in FIELDS})
    log.info("web: admin %s added channel %s", current_account().name, row.name)
    flash(t("channel_added", name=row.name), "success")
    return redirect(url_for(".index"), 303)


@admin_channels.get("/<int:channel_id>")
def edit(channel_id):
    return render_template("admin_channel_edit.html", channel=channel_or_404(channel_id),
                           env_names=env_names(), upstreams=current_app.config["UPSTREAMS"], now=now)


@admin_channels.post("/<int:channel_id>")
def save(channel_id):
    row = channel_or_404(channel_id)
    with refusals():
        channels.change(current_app.extensions["keyring"], row,
                        **{name: request.form.get(name, "") for name in EDITABLE})
    log.info("web: admin %s changed channel %s", current_account().name, row.name)
    flash(t("channel_saved", name=row.name), "success")
    return redirect(url_for(".index"), 303)


@admin_channels.post("/<int:channel_id>/<any(enable, disable, remove):action>")
def act(channel_id, action):
    row = channel_or_404(channel_id)
    with refusals():
        if action == "remove":
            channels.remove(row.name, current_app.config["UPSTREAMS"])
        else:
            getattr(channels, action)(row.name)
    log.info("web: admin %s did %s on channel %s", current_account().name, action, row.name)
    flash(t(f"channel_{action}_done", name=row.name), "success")
    return redirect(url_for(".index"), 303)


def channel_or_404(channel_id):
    return Channel.get_or_none(Channel.id == channel_id) or abort(404)


def env_names():
    """{provider: the variable that holds its implicit channel's key}."""
    return {name: f"{provider.env_prefix}_API_KEY" for name, provider in PROVIDERS.items()}


@contextmanager
def refusals():
    """A refused field, or a missing encryption key, as a message on the page the form sits on."""
    try:
        yield
    except channels.FieldError as error:
        text = f"channel_{error.field}_invalid" if error.problem == "invalid" else f"channel_{error.problem}"
        raise FormError(t(text)) from None
    except CredentialsError:
        raise FormError(t("channel_no_encryption_key")) from None
