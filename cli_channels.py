"""The operator's command line for channels and model aliases (README "Command line",
docs/channels.md): `flask --app gateway channels …` and `flask --app gateway models …`."""
import json
import sys
from contextlib import contextmanager

import click
from flask import current_app
from flask.cli import AppGroup

import channels
import routing
import validation
from credentials import CredentialsError
from models import ModelAlias

channel_commands = AppGroup("channels", help="Upstream accounts per provider: failover, health, keys.")
model_commands = AppGroup("models", help="Model aliases.")


def register(app):
    app.cli.add_command(channel_commands)
    app.cli.add_command(model_commands)


@channel_commands.command("add")
@click.argument("provider")
@click.option("--name", required=True, help="Unique; for openai-compatible, the provider name callers use.")
@click.option("--base-url", default="", help="Ends before /chat/completions; a built-in provider's own by default.")
@click.option("--priority", default="0", help="Higher is tried first.")
@click.option("--weight", default="1", help="Share of requests among channels of the same priority.")
@click.option("--models", default="", help="The models it serves, comma-separated (default: all).")
@click.option("--map", "model_map", default="", help="caller-name=upstream-name pairs, comma-separated.")
@click.option("--api-key-stdin", is_flag=True, help="Read the upstream's API key from stdin (one line).")
def add_channel(provider, name, base_url, priority, weight, models, model_map, api_key_stdin):
    """Add a channel of PROVIDER (a built-in name or openai-compatible); prints its id last."""
    api_key = sys.stdin.readline().strip() if api_key_stdin else ""
    with _refusals():
        row = channels.add(current_app.extensions["keyring"], provider, name=name, base_url=base_url,
                           api_key=api_key, priority=priority, weight=weight, models=models,
                           model_map=model_map)
    click.echo(f"channel {row.name} added (key {row.key_hint or 'none'}):", err=True)
    click.echo(row.id)


@channel_commands.command("list")
def list_channels():
    """Print every channel as JSON, keys masked."""
    click.echo(json.dumps(channels.listing(current_app.config["UPSTREAMS"]), ensure_ascii=False, indent=2))


@channel_commands.command("enable")
@click.argument("name")
def enable_channel(name):
    """Put a channel back in service (also after an automatic disable), on every worker at once."""
    with _refusals():
        channels.enable(name)
    click.echo(f"channel {name} enabled")


@channel_commands.command("disable")
@click.argument("name")
def disable_channel(name):
    """Take a channel out of service until it is enabled again, on every worker at once."""
    with _refusals():
        channels.disable(name)
    click.echo(f"channel {name} disabled")


@channel_commands.command("remove")
@click.argument("name")
def remove_channel(name):
    """Delete a channel and its stored key."""
    with _refusals():
        channels.remove(name, current_app.config["UPSTREAMS"])
    click.echo(f"channel {name} removed")


@channel_commands.command("rekey")
@click.option("--new-key", is_flag=True, help="First make a new key in the key file (not with ENCRYPTION_KEY).")
def rekey_channels(new_key):
    """Encrypt every stored channel key anew with the newest encryption key (docs/channels.md)."""
    with _refusals():
        count = channels.rekey(current_app.extensions["keyring"], new_key)
    click.echo(f"{count} channel keys encrypted with the newest key")


@model_commands.command("alias")
@click.argument("alias")
@click.argument("target", metavar="PROVIDER/MODEL")
def alias_model(alias, target):
    """Let callers name PROVIDER/MODEL as ALIAS: routed, limited and priced as the target."""
    provider, _, model = target.partition("/")
    try:
        validation.model_name(alias)
        validation.model_name(model)
    except ValueError as error:
        raise click.ClickException(str(error)) from None
    if not routing.is_provider(provider):
        raise click.ClickException(f"unknown provider {provider!r}; known: "
                                   f"{', '.join(routing.provider_names())}")
    (ModelAlias.insert(alias=alias, provider=provider, model=model)
     .on_conflict(conflict_target=[ModelAlias.alias],
                  update={ModelAlias.provider: provider, ModelAlias.model: model}).execute())
    click.echo(f"{alias} now means {provider}/{model}")


@model_commands.command("unalias")
@click.argument("alias")
def unalias_model(alias):
    """Remove an alias."""
    if not ModelAlias.delete().where(ModelAlias.alias == alias).execute():
        raise click.ClickException(f"no alias is named {alias!r}")
    click.echo(f"alias {alias} removed")


@contextmanager
def _refusals():
    """A refused change, or a missing encryption key, as the command's error and exit status 1."""
    try:
        yield
    except (ValueError, CredentialsError) as error:
        raise click.ClickException(str(error)) from None
