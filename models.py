"""Tables and the money primitives: accounts, keys, prices, the ledger and the request log.

Amounts are integers of micro-yuan (0.000001 元). For every account, balance + held equals the
sum of its ledger rows: a hold moves money from balance to held, a settlement moves it back minus
the charge and writes the charge to the ledger, in one transaction.
"""
import hashlib
import secrets
import time
from decimal import Decimal, InvalidOperation

from peewee import (
    BigIntegerField, BooleanField, CharField, DoubleField, ForeignKeyField, JOIN, IntegerField,
    IntegrityError, Model, TextField, fn,
)
from werkzeug.security import check_password_hash, generate_password_hash

from billing import Usage
from database import Statement, db, is_postgres

MICRO = 1_000_000
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

    @property
    def limits(self):
        return {"rpm": self.rpm, "tpm": self.tpm, "concurrency": self.concurrency}


class Price(BaseModel):
    """Per (provider, model), in micro-yuan per million tokens."""
    provider = CharField()
    model = CharField()
    input = BigIntegerField()
    cached_input = BigIntegerField()
    output = BigIntegerField()
    max_output = IntegerField()

    class Meta:
        indexes = ((("provider", "model"), True),)

    @classmethod
    def of(cls, provider, model):
        row = PRICE_OF.run(provider, model).fetchone()
        return cls(provider=provider, model=model, **dict(zip(PRICE_OF.columns, row))) if row else None


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
    prompt_tokens = IntegerField(default=0)
    cached_tokens = IntegerField(default=0)
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


TABLES = [Account, ApiKey, Price, RequestLog, LedgerEntry, Setting]


def create_tables():
    with db.atomic():
        if is_postgres():  # concurrent CREATE TABLE IF NOT EXISTS races on PostgreSQL's catalog
            db.execute_sql("SELECT pg_advisory_xact_lock(7351)")
        db.create_tables(TABLES, safe=True)


def setting(name, make_value):
    """The stored value of a setting, storing `make_value()` first if there is none."""
    try:
        with db.atomic():
            Setting.insert(name=name, value=make_value()).on_conflict_ignore().execute()
    except IntegrityError:
        pass
    return Setting.get_by_id(name).value


def create_account(name, balance=0, is_admin=False, password=None):
    with db.atomic():
        account = Account.create(name=name, is_admin=is_admin)
        if password:
            account.set_password(password)
            account.save()
        if balance:
            topup(account, balance, "opening balance")
    return Account.get_by_id(account.id)


def topup(account, amount, note=""):
    with db.atomic():
        Account.update(balance=Account.balance + amount).where(Account.id == account.id).execute()
        LedgerEntry.create(account=account, amount=amount, kind="topup", note=note)


LOOKUP_KEY = Statement.select("apikey", ("id", "account_id", "prefix", "label", "rpm", "tpm",
                                         "concurrency", "expires", "revoked", "created", "last_used"),
                              "digest = ?")
PRICE_OF = Statement.select("price", ("input", "cached_input", "output", "max_output"),
                            "provider = ? AND model = ?")
RESERVE = Statement("UPDATE account SET balance = balance - ?, held = held + ? "
                    "WHERE id = ? AND balance >= ?")
OPEN_REQUEST = Statement(
    "INSERT INTO requestlog (request_id, account_id, key_id, provider, model, stream, state, hold, "
    "cost, prompt_tokens, cached_tokens, completion_tokens, usage_estimated, created) "
    "VALUES (?, ?, ?, ?, ?, ?, 'held', ?, 0, 0, 0, 0, ?, ?) RETURNING id")
TOUCH_KEY = Statement("UPDATE apikey SET last_used = ? WHERE id = ?")
CLOSE_REQUEST = Statement(
    "UPDATE requestlog SET state = ?, cost = ?, status = ?, finished = ?, usage_estimated = ?, "
    "prompt_tokens = ?, cached_tokens = ?, completion_tokens = ? WHERE id = ? AND state = 'held'")
UNHOLD = Statement("UPDATE account SET balance = balance + ?, held = held - ? WHERE id = ?")
RECORD_CHARGE = Statement("INSERT INTO ledgerentry (account_id, amount, kind, request_id, note, created) "
                          "VALUES (?, ?, 'charge', ?, '', ?)")
LAST_USED_PRECISION = 60.0  # seconds: `last_used` is for people, not worth a write per request


def hold(key, amount, request_id, provider, model, stream):
    """Reserve `amount` from the key's account; the new RequestLog, or None if the balance is short."""
    moment = now()
    with db.atomic():
        if not RESERVE.run(amount, amount, key.account_id, amount).rowcount:
            return None
        row_id = OPEN_REQUEST.run(request_id, key.account_id, key.id, provider, model, stream,
                                  amount, False, moment).fetchone()[0]
        if key.last_used is None or key.last_used < moment - LAST_USED_PRECISION:
            TOUCH_KEY.run(moment, key.id)
    return RequestLog(id=row_id, request_id=request_id, account=key.account_id, key=key.id,
                      provider=provider, model=model, stream=stream, hold=amount, created=moment)


def settle(log, usage, cost, status, estimated=False, state="settled"):
    """Replace the hold with the charge, exactly once. The charge never exceeds the hold."""
    cost = max(0, min(cost, log.hold))
    moment = now()
    with db.atomic():
        if not CLOSE_REQUEST.run(state, cost, status, moment, estimated, usage.prompt, usage.cached,
                                 usage.completion, log.id).rowcount:
            return False
        UNHOLD.run(log.hold - cost, log.hold, log.account_id)
        if cost:
            RECORD_CHARGE.run(log.account_id, -cost, log.id, moment)
    return True


def release_stale_holds(created_before):
    """Release the holds of requests admitted before `created_before`; how many there were."""
    stale = RequestLog.select().where((RequestLog.state == "held")
                                      & (RequestLog.created < created_before))
    return sum(settle(row, Usage(), 0, None, state="released") for row in stale)


def ledger_mismatches():
    """A description of every account whose books do not add up; empty when all do."""
    ledger = dict(LedgerEntry.select(LedgerEntry.account, fn.SUM(LedgerEntry.amount))
                  .group_by(LedgerEntry.account).tuples())
    holds = dict(RequestLog.select(RequestLog.account, fn.SUM(RequestLog.hold))
                 .where(RequestLog.state == "held").group_by(RequestLog.account).tuples())
    problems = []
    for account in Account.select():
        books, total = account.balance + account.held, int(ledger.get(account.id) or 0)
        if books != total:
            problems.append(f"{account.name}: balance+held {yuan(books)} != ledger {yuan(total)}")
        if account.held != int(holds.get(account.id) or 0):
            problems.append(f"{account.name}: held {yuan(account.held)} != open holds "
                            f"{yuan(int(holds.get(account.id) or 0))}")
        if account.balance < 0:
            problems.append(f"{account.name}: negative balance {yuan(account.balance)}")
    return problems


def yuan(micro):
    """Micro-yuan as a decimal string of 元, exactly."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{frac:06d}"


def parse_yuan(text):
    """A decimal string of 元 as micro-yuan; ValueError for more than six decimals or junk."""
    try:
        value = Decimal(str(text).strip()) * MICRO
    except InvalidOperation:
        raise ValueError(f"not an amount of 元: {text!r}") from None
    if value != value.to_integral_value() or not value.is_finite():
        raise ValueError(f"at most six decimals of 元: {text!r}")
    return int(value)


# --- The web pages: signed-in browsers, sign-in throttling, usage views ----------------------

WEB_SESSION_SECONDS = 7 * 86400
DAY = 86400


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


TABLES.extend([WebSession, SignInFailure])


def open_web_session(account):
    """A new session token for `account` (expired sessions are swept on the way)."""
    token = secrets.token_urlsafe(32)
    with db.atomic():
        WebSession.delete().where(WebSession.created < now() - WEB_SESSION_SECONDS).execute()
        WebSession.create(digest=ApiKey.digest_of(token), account=account)
    return token


def web_session_account(token):
    """The account signed in with `token`, or None when it is unknown, closed or expired."""
    row = (WebSession.select(WebSession, Account).join(Account)
           .where((WebSession.digest == ApiKey.digest_of(token))
                  & (WebSession.created > now() - WEB_SESSION_SECONDS)).first())
    return row.account if row else None


def close_web_session(token):
    WebSession.delete().where(WebSession.digest == ApiKey.digest_of(token)).execute()


def sign_in_failures(name, address, window):
    """Failed sign-ins in the last `window` seconds: (for this name from this address, from this address)."""
    recent = SignInFailure.select().where((SignInFailure.address == address)
                                          & (SignInFailure.created > now() - window))
    return recent.where(SignInFailure.name == name).count(), recent.count()


def record_sign_in_failure(name, address, window):
    with db.atomic():
        SignInFailure.delete().where(SignInFailure.created < now() - window).execute()
        SignInFailure.create(name=name, address=address)


def forget_sign_in_failures(name, address):
    SignInFailure.delete().where((SignInFailure.name == name)
                                 & (SignInFailure.address == address)).execute()


def account_key(account_id, key_id):
    """The account's key with that id, or None — also when the key is someone else's."""
    return ApiKey.get_or_none((ApiKey.id == key_id) & (ApiKey.account == account_id))


def keys_of(account_id):
    return list(ApiKey.select().where(ApiKey.account == account_id).order_by(ApiKey.id.desc()))


def accounts_overview():
    """Every account with its number of keys (`key_count`), by name."""
    return list(Account.select(Account, fn.COUNT(ApiKey.id).alias("key_count"))
                .join(ApiKey, JOIN.LEFT_OUTER).group_by(Account.id).order_by(Account.name))


def prices_for(providers):
    return list(Price.select().where(Price.provider.in_(list(providers)))
                .order_by(Price.provider, Price.model))


def set_price(provider, model, **fields):
    """Insert or replace the price of (provider, model): input, cached_input, output, max_output."""
    (Price.insert(provider=provider, model=model, **fields)
     .on_conflict(conflict_target=[Price.provider, Price.model], update=fields).execute())


def usage_page(account_id, page, per_page):
    """One page of the account's requests, newest first, each with its key; and the page count."""
    query = (RequestLog.select(RequestLog, ApiKey).join(ApiKey, JOIN.LEFT_OUTER)
             .where(RequestLog.account == account_id))
    pages = max(1, -(-query.count() // per_page))
    return list(query.order_by(RequestLog.created.desc(), RequestLog.id.desc())
                .paginate(page, per_page)), pages


def daily_usage(account_id, days):
    """[(day start, cost, tokens)] for each of the last `days` UTC days, oldest first."""
    today = int(now() // DAY)
    # SQLite may lack FLOOR; its CAST truncates, which is FLOOR for these positive times.
    day = (fn.FLOOR(RequestLog.created / DAY) if is_postgres()
           else (RequestLog.created / DAY).cast("INTEGER"))
    rows = (RequestLog.select(day, fn.SUM(RequestLog.cost),
                              fn.SUM(RequestLog.prompt_tokens + RequestLog.completion_tokens))
            .where((RequestLog.account == account_id)
                   & (RequestLog.created >= (today - days + 1) * DAY))
            .group_by(day).tuples())
    totals = {int(d): (int(cost or 0), int(tokens or 0)) for d, cost, tokens in rows}
    return [(d * DAY, *totals.get(d, (0, 0))) for d in range(today - days + 1, today + 1)]
