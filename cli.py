"""The operator's command line (README "Command line"): `flask --app gateway <group> <command>`."""
import json
import sys

import click
from flask.cli import AppGroup

import money
import price_list
import routing
import validation
from database import db
from models import KEY_DISPLAY_LENGTH, Account, ApiKey, IntegrityError, Price, create_tables
from web import queries

accounts = AppGroup("accounts", help="Accounts and their balances.")
keys = AppGroup("keys", help="API keys.")
prices = AppGroup("prices", help="Prices per provider and model.")
ledger = AppGroup("ledger", help="The money ledger.")


class Checked(click.ParamType):
    """A value taken by a check of validation.py, as the pages take it; its complaint is the error."""

    def __init__(self, name, check):
        self.name, self.check = name, check

    def convert(self, value, param, ctx):
        try:
            return self.check(value)
        except ValueError as error:
            self.fail(str(error), param, ctx)


NAME = Checked("name", validation.account_name)
YUAN = Checked("元", validation.amount)
POSITIVE_YUAN = Checked("元", lambda text: validation.amount(text, positive=True))
NUMBER = Checked("N", validation.whole_number)
LABEL = Checked("text", validation.label)
NOTE = Checked("text", validation.note)
EXPIRY = Checked("date", validation.expiry)
PROVIDER = Checked("provider", lambda name: validation.provider(name, routing.provider_names()))
MODEL = Checked("model", validation.model_name)
MODELS = Checked("m1,m2", validation.model_list)
NETWORKS = Checked("CIDR,CIDR", validation.networks)
# An amount such as -5 is an argument to refuse with the amount's own message, not an unknown option.
NEGATIVE_ARGUMENTS = {"ignore_unknown_options": True}


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
@click.argument("name", type=NAME)
@click.option("--balance", type=YUAN, default="0", help="Opening balance in 元.")
@click.option("--admin", is_flag=True, help="May manage accounts, top-ups and prices.")
@click.option("--password-stdin", is_flag=True, help="Read a web sign-in password from stdin.")
def create_account(name, balance, admin, password_stdin):
    """Create an account."""
    password = read_password(from_stdin=True) if password_stdin else None
    try:
        money.create_account(name, balance=balance, is_admin=admin, password=password)
    except IntegrityError:
        raise click.ClickException(f"an account named {name!r} exists already")
    click.echo(f"account {name} created with {money.yuan(balance)} 元")


@accounts.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin, not a prompt.")
def set_password(name, password_stdin):
    """Set an account's web sign-in password; its web sessions end."""
    _account(name).change_password(read_password(from_stdin=password_stdin))
    click.echo(f"password of {name} set; its web sessions have ended")


def read_password(from_stdin):
    """A password from the first line of stdin, or from a hidden prompt typed twice."""
    text = (sys.stdin.readline().rstrip("\r\n") if from_stdin
            else click.prompt("Password", hide_input=True, confirmation_prompt=True))
    try:
        return validation.password(text)
    except ValueError as error:
        raise click.ClickException(str(error)) from None


@accounts.command("topup", context_settings=NEGATIVE_ARGUMENTS)
@click.argument("name")
@click.argument("amount", type=POSITIVE_YUAN)
@click.option("--note", type=NOTE, default="", help="Kept on the ledger row.")
def topup(name, amount, note):
    """Add AMOUNT 元 to an account's balance."""
    money.topup(_account(name), amount, note)
    click.echo(f"{money.yuan(amount)} 元 added to {name}")


@accounts.command("show")
@click.argument("name")
def show_account(name):
    """Print an account, its balance and its keys as JSON."""
    account = _account(name)
    echo_json({**account_json(account),
               "keys": [key_json(key) for key in account.keys.order_by(ApiKey.id)]})


@accounts.command("list")
def list_accounts():
    """Print every account with its balance and number of keys as JSON."""
    echo_json([{**account_json(account), "keys": account.key_count}
               for account in queries.accounts_overview()])


def account_json(account):
    return {"name": account.name, "admin": account.is_admin,
            "balance": money.yuan(account.balance), "held": money.yuan(account.held)}


def key_json(key):
    """What may be shown of a key: never the key itself nor its digest."""
    return {"prefix": key.prefix, "label": key.label, "state": key.state, "rpm": key.rpm,
            "tpm": key.tpm, "concurrency": key.concurrency, "expires": validation.utc(key.expires) or None,
            "models": key.model_list, "budget": None if key.budget is None else money.yuan(key.budget),
            "spent": money.yuan(key.spent), "ips": key.network_list}


@keys.command("create")
@click.argument("account")
@click.option("--name", "label", type=LABEL, default="", help="A label to tell keys apart.")
@click.option("--rpm", type=NUMBER, help="Requests per minute.")
@click.option("--tpm", type=NUMBER, help="Tokens per minute.")
@click.option("--concurrency", type=NUMBER, help="Requests in flight at once.")
@click.option("--expires", type=EXPIRY, help="When the key stops working, e.g. 2027-01-31T18:00 (UTC).")
@click.option("--models", type=MODELS, default="", help="The only models it may use.")
@click.option("--budget", type=YUAN, help="The most it may spend over its life, in 元.")
@click.option("--ips", type=NETWORKS, default="", help="The only networks it may be used from.")
def create_key(account, label, rpm, tpm, concurrency, expires, models, budget, ips):
    """Issue a key; it is printed once, alone on the last line."""
    key, token = ApiKey.issue(_account(account), label=label, rpm=rpm, tpm=tpm,
                              concurrency=concurrency, expires=expires, models=",".join(models),
                              budget=budget, ips=",".join(ips))
    click.echo(f"key {key.prefix}… for {account} (shown once, store it now):", err=True)
    click.echo(token)


@keys.command("list")
@click.argument("account", required=False)
def list_keys(account):
    """Print the keys of ACCOUNT, or of every account, as JSON (prefixes only)."""
    query = ApiKey.select(ApiKey, Account).join(Account).order_by(Account.name, ApiKey.id)
    if account is not None:
        query = query.where(ApiKey.account == _account(account).id)
    echo_json([{"account": key.account.name, **key_json(key), "created": validation.utc(key.created),
                "last_used": validation.utc(key.last_used) or None} for key in query])


@keys.command("revoke")
@click.argument("key")
def revoke_key(key):
    """Revoke KEY: its display prefix as the lists show it, or the whole key."""
    found = _key(key)
    ApiKey.revoke(found.id)
    click.echo(f"key {found.prefix} revoked")


def _key(text):
    """The key a whole token (found by its digest) or the start of a display prefix names."""
    if len(text) > KEY_DISPLAY_LENGTH:
        found = ApiKey.get_or_none(ApiKey.digest == ApiKey.digest_of(text))
        if found is None:  # the text may be a secret: it is not repeated
            raise click.ClickException("no key is the one given")
        return found
    matches = list(ApiKey.select().where(ApiKey.prefix.startswith(text)).limit(2))
    if not matches:
        raise click.ClickException(f"no key has the prefix {text!r}")
    if len(matches) > 1 or not text:
        raise click.ClickException(f"the prefix {text!r} is ambiguous; give more of it")
    return matches[0]


@prices.command("set")
@click.argument("provider", type=PROVIDER)
@click.argument("model", type=MODEL)
@click.option("--input", "input_", type=YUAN, required=True, help="元 per million cache-miss input tokens.")
@click.option("--cached-input", type=YUAN, help="元 per million cache-hit input tokens.")
@click.option("--output", type=YUAN, help="元 per million output tokens.")
@click.option("--cache-write", type=YUAN, help="元 per million input tokens written to the cache "
                                               "(default: the cache-miss price).")
@click.option("--embedding", is_flag=True,
              help="An embedding model: its input alone is priced (no cached input, no output).")
@click.option("--max-output", type=NUMBER, default=str(price_list.DEFAULT_MAX_OUTPUT),
              show_default=True,
              help="The model's largest max_tokens; sent upstream when the caller sends none.")
def set_price(provider, model, input_, cached_input, output, cache_write, embedding, max_output):
    """Set a model's price in 元 per million tokens."""
    if embedding and (cached_input or output or cache_write):
        raise click.UsageError("an --embedding model has no --cached-input, --output or "
                               "--cache-write price")
    if not embedding and (cached_input is None or output is None):
        raise click.UsageError("--cached-input and --output are required (or --embedding)")
    Price.set(provider, model, input=input_, cached_input=cached_input or 0, output=output or 0,
              cache_write=cache_write, max_output=max_output)
    click.echo(f"price of {provider}/{model} set")


@prices.command("list")
def list_prices():
    """Print every price as JSON, in 元 per million tokens (a cache-write price of null: the
    cache-miss price)."""
    echo_json([{"provider": price.provider, "model": price.model, "input": money.yuan(price.input),
                "cached_input": money.yuan(price.cached_input),
                "cache_write": None if price.cache_write is None else money.yuan(price.cache_write),
                "output": money.yuan(price.output), "max_output": price.max_output}
               for price in Price.of_providers(routing.provider_names())])


@prices.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_prices(file):
    """Set the prices a TOML price list names; nothing changes if any entry is wrong."""
    with open(file, encoding="utf-8") as source:
        try:
            entries = price_list.parse(source.read(), routing.provider_names())
        except (price_list.PriceListError, UnicodeError) as error:
            raise click.ClickException(f"{file}: nothing imported:\n{error}") from None
    with db.atomic():
        for entry in entries:
            Price.set(**entry)
    click.echo(f"{len(entries)} prices imported from {file}")


@prices.command("export")
def export_prices():
    """Print every price as a TOML price list, which `prices import` reads back."""
    prices = Price.select().order_by(Price.provider, Price.model)
    click.echo(price_list.dumps(prices, price_list.HEADER), nl=False)


@ledger.command("check")
def check_ledger():
    """Verify that balance + held equals the ledger for every account."""
    mismatches = money.ledger_mismatches()
    for problem in mismatches:
        click.echo(f"MISMATCH {problem}")
    if mismatches:
        sys.exit(1)
    click.echo(f"ledger consistent for {Account.select().count()} accounts")


def echo_json(value):
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _account(name):
    """The account named `name`; not checked as a new name is, so that an odd old one stays reachable."""
    account = Account.get_or_none(Account.name == name)
    if account is None:
        raise click.ClickException(f"no account named {name!r}")
    return account
