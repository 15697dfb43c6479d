"""The operator's command line (README "Command line"): `flask --app gateway <group> <command>`."""
import json
import sys
from datetime import timezone

import click
from flask.cli import AppGroup

import money
import routing
import validation
from models import Account, ApiKey, IntegrityError, Price, create_tables

accounts = AppGroup("accounts", help="Accounts and their balances.")
keys = AppGroup("keys", help="API keys.")
prices = AppGroup("prices", help="Prices per provider and model.")
ledger = AppGroup("ledger", help="The money ledger.")


class Yuan(click.ParamType):
    name = "元"

    def convert(self, value, param, ctx):
        try:
            micro = money.parse_yuan(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)
        if micro < 0:
            self.fail("must not be negative", param, ctx)
        return micro


YUAN = Yuan()


class Checked(click.ParamType):
    """Text taken by one of validation.py's checks."""

    def __init__(self, check, name):
        self.check, self.name = check, name

    def convert(self, value, param, ctx):
        try:
            return self.check(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


MODELS = Checked(validation.model_list, "m1,m2")
NETWORKS = Checked(validation.networks, "CIDR,CIDR")


def register(app):
    for group in (accounts, keys, prices, ledger):
        app.cli.add_command(group)
    app.cli.add_command(init_db)


@click.command("init-db")
def init_db():
    """Create or upgrade the tables."""
    create_tables()
    click.echo("database ready")


@accounts.command("create")
@click.argument("name")
@click.option("--balance", type=YUAN, default=0, help="Opening balance in 元.")
@click.option("--admin", is_flag=True, help="May manage accounts, top-ups and prices.")
@click.option("--password-stdin", is_flag=True, help="Read a web sign-in password from stdin.")
def create_account(name, balance, admin, password_stdin):
    """Create an account."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    try:
        money.create_account(name, balance=balance, is_admin=admin, password=password)
    except IntegrityError:
        raise click.ClickException(f"an account named {name!r} exists already")
    click.echo(f"account {name} created with {money.yuan(balance)} 元")


@accounts.command("topup")
@click.argument("name")
@click.argument("amount", type=YUAN)
@click.option("--note", default="", help="Kept on the ledger row.")
def topup(name, amount, note):
    """Add AMOUNT 元 to an account's balance."""
    money.topup(_account(name), amount, note)
    click.echo(f"{money.yuan(amount)} 元 added to {name}")


@accounts.command("show")
@click.argument("name")
def show_account(name):
    """Print an account, its balance and its keys as JSON."""
    account = _account(name)
    click.echo(json.dumps({
        "name": account.name, "admin": account.is_admin,
        "balance": money.yuan(account.balance), "held": money.yuan(account.held),
        "keys": [{"prefix": k.prefix, "label": k.label, "state": k.state, "rpm": k.rpm,
                  "tpm": k.tpm, "concurrency": k.concurrency, "expires": validation.utc(k.expires) or None,
                  "models": k.model_list, "budget": None if k.budget is None else money.yuan(k.budget),
                  "spent": money.yuan(k.spent), "ips": k.network_list}
                 for k in account.keys.order_by(ApiKey.id)],
    }, ensure_ascii=False, indent=2))


@keys.command("create")
@click.argument("account")
@click.option("--name", "label", default="", help="A label to tell keys apart.")
@click.option("--rpm", type=click.IntRange(1), help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(1), help="Tokens per minute.")
@click.option("--concurrency", type=click.IntRange(1), help="Requests in flight at once.")
@click.option("--expires", type=click.DateTime(), help="When the key stops working (UTC).")
@click.option("--models", type=MODELS, default="", help="The only models it may use.")
@click.option("--budget", type=YUAN, help="The most it may spend over its life, in 元.")
@click.option("--ips", type=NETWORKS, default="", help="The only networks it may be used from.")
def create_key(account, label, rpm, tpm, concurrency, expires, models, budget, ips):
    """Issue a key; it is printed once, alone on the last line."""
    expires_at = expires.replace(tzinfo=timezone.utc).timestamp() if expires else None
    key, token = ApiKey.issue(_account(account), label=label, rpm=rpm, tpm=tpm,
                              concurrency=concurrency, expires=expires_at, models=",".join(models),
                              budget=budget, ips=",".join(ips))
    click.echo(f"key {key.prefix}… for {account} (shown once, store it now):", err=True)
    click.echo(token)


@keys.command("revoke")
@click.argument("prefix")
def revoke_key(prefix):
    """Revoke the key whose display prefix starts with PREFIX."""
    matches = list(ApiKey.select().where(ApiKey.prefix.startswith(prefix)).limit(2))
    if not matches:
        raise click.ClickException(f"no key has the prefix {prefix!r}")
    if len(matches) > 1 or not prefix:
        raise click.ClickException(f"the prefix {prefix!r} is ambiguous; give more of it")
    ApiKey.revoke(matches[0].id)
    click.echo(f"key {matches[0].prefix} revoked")


@prices.command("set")
@click.argument("provider")
@click.argument("model")
@click.option("--input", "input_", type=YUAN, required=True, help="元 per million cache-miss input tokens.")
@click.option("--cached-input", type=YUAN, required=True, help="元 per million cache-hit input tokens.")
@click.option("--output", type=YUAN, required=True, help="元 per million output tokens.")
@click.option("--max-output", type=click.IntRange(1), default=8192, show_default=True,
              help="The model's largest max_tokens; sent upstream when the caller sends none.")
def set_price(provider, model, input_, cached_input, output, max_output):
    """Set a model's price in 元 per million tokens."""
    if not routing.is_provider(provider):
        raise click.ClickException(f"unknown provider {provider!r}; known: "
                                   f"{', '.join(routing.provider_names())}")
    Price.set(provider, model, input=input_, cached_input=cached_input, output=output,
                     max_output=max_output)
    click.echo(f"price of {provider}/{model} set")


@ledger.command("check")
def check_ledger():
    """Verify that balance + held equals the ledger for every account."""
    mismatches = money.ledger_mismatches()
    for problem in mismatches:
        click.echo(f"MISMATCH {problem}")
    if mismatches:
        sys.exit(1)
    click.echo(f"ledger consistent for {Account.select().count()} accounts")


def _account(name):
    account = Account.get_or_none(Account.name == name)
    if account is None:
        raise click.ClickException(f"no account named {name!r}")
    return account
