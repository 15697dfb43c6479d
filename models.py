"""The tables: accounts, keys, prices, the request log, the ledger, settings and web sessions.
Money moves between them only through `money.py`. Amounts are integers of micro-yuan."""
import hashlib
import secrets
import time

from peewee import (  # noqa: F401 (IntegrityError: for callers catching a duplicate)
    BigIntegerField, BooleanField, CharField, DoubleField, ForeignKeyField, IntegerField,
    IntegrityError, Model, TextField,
)
from playhouse.migrate import SchemaMigrator, migrate
from werkzeug.security import check_password_hash, generate_password_hash

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
        row = LOOKUP_KEY.run(cls.digest_of(token)).fetchone()
        if row is None:
            return None
        key = cls(**dict(zip(LOOKUP_KEY.columns, row)))
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
        row = PRICE_OF.run(provider, model).fetchone()
        return cls(provider=provider, model=model, **dict(zip(PRICE_OF.columns, row))) if row else None

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

    class Meta:
        indexes = ((("key", "created"), False), (("account", "created"), False),
                   (("state", "created"), False))

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


class Setting(BaseModel):
    name = CharField(primary_key=True)
    value = TextField()


class WebSession(BaseModel):
    """A signed-in browser. Its cookie carries a random token; only the token's digest is kept,
    so signing out (deleting the row) ends the session on every worker."""
    digest = CharField(primary_key=True)
    account = ForeignKeyField(Account, backref="web_sessions", on_delete="CASCADE")
    created = DoubleField(default=now)


class SignInFailure(BaseModel):
    name = CharField()
    address = CharField()
    created = DoubleField(default=now)

    class Meta:
        indexes = ((("address", "created"), False),)


TABLES = [Account, ApiKey, Price, RequestLog, LedgerEntry, Setting, WebSession, SignInFailure]
# Columns added to a table after its first release: a database made before them gets them at
# start-up (and by `init-db`), so upgrading the code is all an operator does.
ADDED_COLUMNS = ((Price, "cache_write"), (RequestLog, "cache_write_tokens"))


def create_tables():
    """Create the tables a database lacks, and the columns its tables lack; one process at a
    time (SQLite's transactions take the write lock at once, PostgreSQL takes an advisory lock)."""
    with db.atomic():
        if is_postgres():  # concurrent CREATE TABLE IF NOT EXISTS races on PostgreSQL's catalog
            db.execute_sql("SELECT pg_advisory_xact_lock(7351)")
        db.create_tables(TABLES, safe=True)
        add_missing_columns()


def add_missing_columns():
    migrator = SchemaMigrator.from_database(db.obj)
    for model, name in ADDED_COLUMNS:
        table = model._meta.table_name
        if name not in {column.name for column in db.get_columns(table)}:
            migrate(migrator.add_column(table, name, model._meta.fields[name]))


def setting(name, make_value):
    """The stored value of a setting, storing `make_value()` first if there is none."""
    try:
        with db.atomic():
            Setting.insert(name=name, value=make_value()).on_conflict_ignore().execute()
    except IntegrityError:
        pass
    return Setting.get_by_id(name).value


LOOKUP_KEY = Statement.select("apikey", ("id", "account_id", "prefix", "label", "rpm", "tpm",
                                         "concurrency", "expires", "revoked", "created", "last_used"),
                              "digest = ?")
PRICE_OF = Statement.select("price", ("input", "cached_input", "output", "max_output",
                                      "cache_write"), "provider = ? AND model = ?")
