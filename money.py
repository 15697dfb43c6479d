"""Money: every movement of an account's balance, and a request's money from admission to
settlement (docs/money.md).

Amounts are integers of micro-yuan (0.000001 元). For every account, balance + held equals the
sum of its ledger rows: a hold moves money from balance to held, a settlement moves it back minus
the charge and writes the charge to the ledger, in one transaction.
"""
import logging
import time
from decimal import Decimal, InvalidOperation

from peewee import fn

import billing
from database import Statement, db
from errors import ApiError
from models import Account, LedgerEntry, RequestLog, now
from providers.base import Usage

MICRO = 1_000_000
log = logging.getLogger("qingcheng")


class Bill:
    """A request's money, from admission to settlement. `admit` holds the request's maximum cost
    within the key's rate limits; then exactly one of `charge` (from the upstream's usage, or the
    estimate when it reported none) or `release` closes it, and frees the key's limiter slot.
    Used as a context manager, any exception before it is closed releases it at once."""

    def __init__(self, key, row, ticket, price, limiter, prompt_text_bytes, message_count):
        self.key, self.row, self.ticket, self.price, self.limiter = key, row, ticket, price, limiter
        self.prompt_text_bytes, self.message_count = prompt_text_bytes, message_count
        self.closed = False

    @classmethod
    def admit(cls, key, limiter, price, most, request_id, provider, model, stream, prompt):
        """Within the key's rate limits (429), hold `most` (403); `prompt` is
        (text bytes, message count) for an estimate."""
        with limiter.admission(key) as ticket:
            row = hold(key, most, request_id, provider, model, stream)
            if row is None:
                raise ApiError(403, "insufficient_balance",
                               f"The account balance cannot cover this request's maximum cost of "
                               f"{yuan(most)} 元; top up or lower max_tokens.",
                               headers=dict(ticket.headers))
        return cls(key, row, ticket, price, limiter, *prompt)

    def charge(self, usage, status=200, completion_estimate=0, delivered=True):
        """Close with the upstream's `usage`. When it reported none, the estimate (docs/money.md)
        is charged, with `completion_estimate` tokens generated — if anything was delivered."""
        estimated = usage is None
        if estimated:
            usage = billing.estimate_usage(self.prompt_text_bytes, self.message_count,
                                           completion_estimate)
        cost = billing.charge(self.price, usage) if delivered else 0
        self._close(usage, cost, status, estimated)

    def release(self, status):
        """Close with no charge: the request failed before it delivered anything."""
        self._close(Usage(), 0, status, False)

    def _close(self, usage, cost, status, estimated):
        if self.closed:
            return
        self.closed = True
        try:
            with db.connection_context():
                settle(self.row, usage, cost, status, estimated)
        finally:
            self.limiter.finished(self.key, self.ticket, usage.total)

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is not None:
            self.release(error.status if isinstance(error, ApiError) else 500)
        return False


class HoldSweeper:
    """Every `interval` seconds, release holds older than any live request can be: their worker
    died mid-request, and the money must not stay locked."""

    def __init__(self, max_age, interval):
        self.max_age, self.interval = max_age, interval
        self.next_run = 0.0

    def __call__(self):
        if time.monotonic() >= self.next_run:
            self.next_run = time.monotonic() + self.interval
            released = release_stale_holds(now() - self.max_age)
            if released:
                log.warning("Released %d holds left by requests that outlived every deadline.",
                            released)


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



RESERVE = Statement("UPDATE account SET balance = balance - ?, held = held + ? "
                    "WHERE id = ? AND balance >= ?")
OPEN_REQUEST = Statement(
    "INSERT INTO requestlog (request_id, account_id, key_id, provider, model, stream, state, hold, "
    "cost, prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens, usage_estimated, "
    "created) VALUES (?, ?, ?, ?, ?, ?, 'held', ?, 0, 0, 0, 0, 0, ?, ?) RETURNING id")
TOUCH_KEY = Statement("UPDATE apikey SET last_used = ? WHERE id = ?")
CLOSE_REQUEST = Statement(
    "UPDATE requestlog SET state = ?, cost = ?, status = ?, finished = ?, usage_estimated = ?, "
    "prompt_tokens = ?, cached_tokens = ?, cache_write_tokens = ?, completion_tokens = ? "
    "WHERE id = ? AND state = 'held'")
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
                                 usage.cache_write, usage.completion, log.id).rowcount:
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


def plain_yuan(micro):
    """元 without trailing zeros, as prices read best: 2, 0.5, 13.5."""
    return yuan(micro).rstrip("0").rstrip(".")


def parse_yuan(text):
    """A decimal string of 元 as micro-yuan; ValueError for more than six decimals or junk."""
    try:
        value = Decimal(str(text).strip()) * MICRO
    except InvalidOperation:
        raise ValueError(f"not an amount of 元: {text!r}") from None
    if not value.is_finite() or value != value.to_integral_value():
        raise ValueError(f"at most six decimals of 元: {text!r}")
    return int(value)
