"""The tables: accounts, keys, prices, the request log, the ledger, settings, web sessions, and the
channels with their failures and the model aliases. Money moves between them only through
`money.py`. Amounts are integers of micro-yuan."""
import hashlib
import secrets
import time

from peewee import (  # noqa: F401 (IntegrityError: for callers catching a duplicate)
    BigIntegerField, BooleanField, CharField, DoubleField, ForeignKeyField, IntegerField,
    IntegrityError, Model, TextField,
)
from werkzeug.security import check_password_hash, generate_password_hash

import config_cache
from database import Statement, db, is_postgres

KEY_PREFIX = "sk-qc-"
KEY_DISPLAY_LENGTH = len(KEY_PREFIX) + 8


def now():
    return time.time()


class BaseModel(Model):
    class Meta:
        database = db


class Account(BaseModel):
    name = CharField(unique=True)
    is_admin = BooleanField(default=False)
    password_hash = CharField(null=True)
    balance = BigIntegerField(default=0)
    held = BigIntegerField(default=0)
    created = DoubleField(default=now)

    def set_password(self, password):
        self.password_hash = generate_password_hash(password)

    def change_password(self, password):
        """A new password; every web session of the account ends, on every worker."""
        self.set_password(password)
        with db.atomic():  # the hash alone: a whole-row save could undo a concurrent charge
            Account.update(password_hash=self.password_hash).where(Account.id == self.id).execute()
            WebSession.delete().where(WebSession.account == self.id).execute()

    def check_password(self, password):
        return bool(self.password_hash) and check_password_hash(self.password_hash, password)


class ApiKey(BaseModel):
    account = ForeignKeyField(Account, backref="keys", on_delete="CASCADE")
    digest = CharField(unique=True)
    prefix = CharField(index=True)
    label = CharField(default="")
    rpm = IntegerField(null=True)
    tpm = IntegerField(null=True)
    concurrency = IntegerField(null=True)
    expires = DoubleField(null=True)
    revoked = BooleanField(default=False)
    created = DoubleField(default=now)
    last_used = DoubleField(null=True)
    # Policies (docs/channels.md): allowed models and caller networks, comma-separated ('' = any);
    # a budget over the key's life, against which `spent` and `held` count like an account's.
    models = TextField(default="")
    ips = TextField(default="")
    budget = BigIntegerField(null=True)
    spent = BigIntegerField(default=0)
    held = BigIntegerField(default=0)

    @staticmethod
    def digest_of(token):
        return hashlib.sha256(token.encode()).hexdigest()

    @classmethod
    def issue(cls, account, **fields):
        """Create a key; the token is returned here and never stored."""
        token = KEY_PREFIX + secrets.token_urlsafe(32)
        key = cls.create(account=account, digest=cls.digest_of(token),
                         prefix=token[:KEY_DISPLAY_LENGTH], **fields)
        return key, token

    @classmethod
    def lookup(cls, token):
        """The usable key for a token, or None."""
        found = config_cache.rows(LOOKUP_KEY, cls.digest_of(token))
        if not found:
            return None
        key = cls(**dict(zip(LOOKUP_KEY.columns, found[0])))
        return key if key.state == "active" else None

    @property
    def state(self):
        if self.revoked:
            return "revoked"
        if self.expires is not None and self.expires <= now():
            return "expired"
        return "active"

    @classmethod
    def revoke(cls, key_id):
        """At once on every worker: each request looks its key up afresh."""
        cls.update(revoked=True).where(cls.id == key_id).execute()

    @property
    def limits(self):
        return {"rpm": self.rpm, "tpm": self.tpm, "concurrency": self.concurrency}

    @property
    def model_list(self):
        return split_list(self.models)

    @property
    def network_list(self):
        return split_list(self.ips)


class Price(BaseModel):
    """Per (provider, model), in micro-yuan per million tokens: cache-miss input, cache-hit
    input, cache-write input (None: the miss price) and output."""
    provider = CharField()
    model = CharField()
    input = BigIntegerField()
    cached_input = BigIntegerField()
    output = BigIntegerField()
    max_output = IntegerField()
    cache_write = BigIntegerField(null=True)

    class Meta:
        indexes = ((("provider", "model"), True),)

    @property
    def write_price(self):
        return self.input if self.cache_write is None else self.cache_write

    @classmethod
    def of(cls, provider, model):
        found = config_cache.rows(PRICE_OF, provider, model)
        return cls(provider=provider, model=model, **dict(zip(PRICE_OF.columns, found[0]))) if found else None

    @classmethod
    def of_providers(cls, providers):
        """The prices of `providers`' models, by provider and model."""
        return list(cls.select().where(cls.provider.in_(list(providers)))
                    .order_by(cls.provider, cls.model))

    @classmethod
    def set(cls, provider, model, **fields):
        """Insert or replace the price of (provider, model)."""
        (cls.insert(provider=provider, model=model, **fields)
         .on_conflict(conflict_target=[cls.provider, cls.model], update=fields).execute())


class RequestLog(BaseModel):
    """One admitted request. While `state` is 'held' its hold is part of the account's `held`."""
    request_id = CharField()
    account = ForeignKeyField(Account, backref="requests", on_delete="CASCADE")
    key = ForeignKeyField(ApiKey, backref="requests", null=True, on_delete="SET NULL")
    provider = CharField()
    model = CharField()
    stream = BooleanField(default=False)
    state = CharField(default="held")
    hold = BigIntegerField()
    cost = BigIntegerField(default=0)
    # The settled usage: every input token (`prompt_tokens`), of which cache reads and cache writes.
    prompt_tokens = IntegerField(default=0)
    cached_tokens = IntegerField(default=0)
    cache_write_tokens = IntegerField(default=0)
    completion_tokens = IntegerField(default=0)
    usage_estimated = BooleanField(default=False)
    status = IntegerField(null=True)
    created = DoubleField(default=now)
    finished = DoubleField(null=True)
    # The channel that answered (None when none did), the channels tried, and how long the
    # serving one took until its answer began to reach the caller.
    channel = CharField(null=True)
    attempts = IntegerField(default=0)
    upstream_ms = IntegerField(null=True)
    # The caller's address: behind a trusted proxy, the one it names (key_policy.caller_address).
    client_ip = CharField(null=True)

    class Meta:
        indexes = ((("key", "created"), False), (("account", "created"), False),
                   (("state", "created"), False), (("channel", "created"), False))

    @property
    def total_tokens(self):
        return self.prompt_tokens + self.completion_tokens


class LedgerEntry(BaseModel):
    account = ForeignKeyField(Account, backref="ledger", on_delete="CASCADE")
    amount = BigIntegerField()
    kind = CharField()  # 'topup' or 'charge'
    request = ForeignKeyField(RequestLog, null=True, on_delete="SET NULL")
    note = TextField(default="")
    created = DoubleField(default=now)


class Channel(BaseModel):
    """One upstream account of a provider (docs/channels.md). `provider` is a built-in provider or
    'openai-compatible' (then `name` is the provider callers and prices use). `api_key` is
    encrypted (credentials.py) and `key_hint` its masked form. A channel `from_env` takes its base
    URL and key from `<PROVIDER>_BASE_URL` / `<PROVIDER>_API_KEY`. `state` is 'enabled',
    'disabled' (by the operator) or 'auto_disabled' (the upstream refused its key or funds; `reason`
    says how, e.g. 'HTTP 402 insufficient_balance'); `failures` in a row put it
    in cool-down until `cooling_until`; `probed` is when it was last probed or disabled."""
    name = CharField(unique=True)
    provider = CharField()
    base_url = CharField(default="")
    api_key = TextField(default="")
    key_hint = CharField(default="")
    from_env = BooleanField(default=False)
    priority = IntegerField(default=0)
    weight = IntegerField(default=1)
    models = TextField(default="")
    model_map = TextField(default="")
    state = CharField(default="enabled")
    reason = TextField(default="")
    failures = IntegerField(default=0)
    cooling_until = DoubleField(null=True)
    probed = DoubleField(null=True)
    created = DoubleField(default=now)

    @property
    def model_list(self):
        return split_list(self.models)

    @property
    def model_pairs(self):
        """The model map as {caller's name: upstream's name}."""
        return dict(pair.split("=", 1) for pair in split_list(self.model_map))


class ChannelFailure(BaseModel):
    """A failed attempt on a channel: what the health shown on the admin page counts."""
    channel = CharField()
    kind = CharField()
    detail = CharField()
    created = DoubleField(default=now)

    class Meta:
        indexes = ((("channel", "created"), False),)


class ModelAlias(BaseModel):
    """A model name callers use for PROVIDER/MODEL: routed, limited and priced as that."""
    alias = CharField(primary_key=True)
    provider = CharField()
    model = CharField()


class Setting(BaseModel):
    name = CharField(primary_key=True)
    value = TextField()


class WebSession(BaseModel):
    """A signed-in browser. Its cookie carries a random token; only the token's digest is kept,
    so signing out (deleting the row) ends the session on every worker."""
    digest = CharField(primary_key=True)
    account = ForeignKeyField(Account, backref="web_sessions", on_delete="CASCADE")
    created = DoubleField(default=now)


class ConfigVersion(BaseModel):
    """One row, whose `version` triggers change with every key, price, alias and channel: what
    workers keep of those is good while it stays the same (config_cache.py)."""
    version = BigIntegerField()


class SignInFailure(BaseModel):
    name = CharField()
    address = CharField()
    created = DoubleField(default=now)

    class Meta:
        indexes = ((("address", "created"), False),)


TABLES = [Account, ApiKey, Price, RequestLog, LedgerEntry, Setting, WebSession, SignInFailure,
          Channel, ChannelFailure, ModelAlias, ConfigVersion]


def split_list(text):
    return [part.strip() for part in (text or "").split(",") if part.strip()]


def create_tables():
    """Create the tables, or bring an older version's up to date (missing columns, indexes). When
    nothing is missing no DDL runs: CREATE … IF NOT EXISTS still locks the table on PostgreSQL,
    which deadlocks with the requests that other workers serve while this one starts."""
    with db.atomic():
        if is_postgres():  # concurrent CREATE TABLE IF NOT EXISTS races on PostgreSQL's catalog
            db.execute_sql("SELECT pg_advisory_xact_lock(7351)")
        existing = set(db.get_tables())
        for model in TABLES:
            if model._meta.table_name not in existing:
                model.create_table(safe=True)
                continue
            if "spent" in add_missing_columns(model) and model is ApiKey:
                count_key_spending()
            present = {index.name for index in db.get_indexes(model._meta.table_name)}
            if any(index._name not in present for index in model._meta.fields_to_index()):
                model._schema.create_indexes(safe=True)
        config_cache.install_triggers()
        if not ConfigVersion.select().exists():
            ConfigVersion.insert(id=1, version=config_cache.first_version()).on_conflict_ignore().execute()


def add_missing_columns(model):
    """ALTER TABLE … ADD COLUMN for each field the table lacks; their names."""
    table = model._meta.table_name
    present = {column.name for column in db.get_columns(table)}
    missing = [f for f in model._meta.sorted_fields if f.column_name not in present]
    for field in missing:
        context = db.get_sql_context()
        column = context.sql(field.ddl(context)).query()[0]
        default = "" if field.null else f" DEFAULT {sql_literal(field.default)}"
        db.execute_sql(f'ALTER TABLE "{table}" ADD COLUMN {column}{default}')
    return [field.name for field in missing]


def sql_literal(value):
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"


def count_key_spending():
    """Fill a key's new `spent` and `held` from the request log it already has."""
    db.execute_sql(
        "UPDATE apikey SET "
        "spent = (SELECT COALESCE(SUM(cost), 0) FROM requestlog WHERE key_id = apikey.id), "
        "held = (SELECT COALESCE(SUM(hold), 0) FROM requestlog "
        "WHERE key_id = apikey.id AND state = 'held')")


def setting(name, make_value):
    """The stored value of a setting, storing `make_value()` first if there is none."""
    try:
        with db.atomic():
            Setting.insert(name=name, value=make_value()).on_conflict_ignore().execute()
    except IntegrityError:
        pass
    return Setting.get_by_id(name).value


# What the request path reads of a key: config_cache.WATCHED counts changes of these columns.
LOOKUP_KEY = Statement.select("apikey", ("id", "account_id", "prefix", "label", "rpm", "tpm",
                                         "concurrency", "expires", "revoked", "created", "models",
                                         "ips", "budget"),
                              "digest = ?")
PRICE_OF = Statement.select("price", ("input", "cached_input", "output", "max_output",
                                      "cache_write"), "provider = ? AND model = ?")
