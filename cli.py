"""The operator's command line (README "Command line"): `flask --app gateway <group> <command>`."""
import json
import sys
from datetime import timezone

import click
from flask.cli import AppGroup

import money
import validation
from models import Account, ApiKey, IntegrityError, Price, create_tables
from providers import PROVIDERS

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
                  "tpm": k.tpm, "concurrency": k.concurrency, "expires": validation.utc(k.expires) or None}
                 for k in account.keys.order_by(ApiKey.id)],
    }, ensure_ascii=False, indent=2))


@keys.command("create")
@click.argument("account")
@click.option("--name", "label", default="", help="A label to tell keys apart.")
@click.option("--rpm", type=click.IntRange(1), help="Requests per minute.")
@click.option("--tpm", type=click.IntRange(1), help="Tokens per minute.")
@click.option("--concurrency", type=click.IntRange(1), help="Requests in flight at once.")
@click.option("--expires", type=click.DateTime(), help="When the key stops working (UTC).")
def create_key(account, label, rpm, tpm, concurrency, expires):
    """Issue a key; it is printed once, alone on the last line."""
    expires_at = expires.replace(tzinfo=timezone.utc).timestamp() if expires else None
    key, token = ApiKey.issue(_account(account), label=label, rpm=rpm, tpm=tpm,
                              concurrency=concurrency, expires=expires_at)
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
@click.option("--cached-input", type=YUAN, help="元 per million cache-hit input tokens.")
@click.option("--output", type=YUAN, help="元 per million output tokens.")
@click.option("--embedding", is_flag=True,
              help="An embedding model: its input alone is priced (no cached input, no output).")
@click.option("--max-output", type=click.IntRange(1), default=8192, show_default=True,
              help="The model's largest max_tokens; sent upstream when the caller sends none.")
def set_price(provider, model, input_, cached_input, output, embedding, max_output):
    """Set a model's price in 元 per million tokens."""
    if provider not in PROVIDERS:
        raise click.ClickException(f"unknown provider {provider!r}; known: {', '.join(PROVIDERS)}")
    if embedding and (cached_input or output):
        raise click.UsageError("an --embedding model has no --cached-input or --output price")
    if not embedding and (cached_input is None or output is None):
        raise click.UsageError("--cached-input and --output are required (or --embedding)")
    Price.set(provider, model, input=input_, cached_input=cached_input or 0, output=output or 0,
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
