"""Money: every movement of an account's balance, and a request's money from admission to
settlement (docs/money.md).

Amounts are integers of micro-yuan (0.000001 元). For every account, balance + held equals the
sum of its ledger rows: a hold moves money from balance to held, a settlement moves it back minus
the charge and writes the charge to the ledger, in one transaction.
"""
import itertools
import logging
import threading
import time
from decimal import Decimal, InvalidOperation

from peewee import Case, fn

import billing
import database
from database import Statement, db
from errors import ApiError
from models import Account, ApiKey, LedgerEntry, RequestLog, now
from providers.base import Usage

MICRO = 1_000_000
SETTLE_RETRY_PAUSES = (0.25, 0.5, 1, 2, 4)  # seconds, the last repeated
log = logging.getLogger("qingcheng")


class Bill:
    """A request's money, from admission to settlement. `admit` holds the request's maximum cost
    within the key's rate limits; then exactly one of `charge` (from the upstream's usage, or the
    estimate when it reported none) or `release` closes it, and frees the key's limiter slot.
    Used as a context manager, any exception before it is closed releases it at once.

    One hold whatever the channels tried: `attempt` counts each, `answered` names the one that
    answered; the request log gets that channel, the number of attempts and the channel's latency."""

    def __init__(self, key, row, ticket, price, limiter, prompt_text_bytes, message_count, keep_for):
        self.key, self.row, self.ticket, self.price, self.limiter = key, row, ticket, price, limiter
        self.prompt_text_bytes, self.message_count = prompt_text_bytes, message_count
        self.settle_by = row.created + keep_for  # then HoldSweeper releases the hold instead
        self.closed = False
        self.channel, self.attempts, self.upstream_ms = None, 0, None
        self.usage, self.cost = None, 0  # once closed: what was settled

    @classmethod
    def admit(cls, key, limiter, price, most, request_id, provider, model, stream, prompt, keep_for,
              client_ip=None):
        """Within the key's rate limits (429), hold `most` on the key's budget and the account's
        balance (403); `prompt` is (text bytes, message count) for an estimate; `keep_for` is
        HoldSweeper's `max_age`, the seconds the hold may wait for its settlement."""
        with limiter.admission(key) as ticket:
            try:
                row = hold(key, most, request_id, provider, model, stream, client_ip)
            except ApiError as refusal:
                refusal.headers.update(ticket.headers)
                raise
        return cls(key, row, ticket, price, limiter, *prompt, keep_for)

    def attempt(self):
        """One more channel is tried; none has answered yet."""
        self.attempts += 1
        self.answered(None, None)

    def answered(self, channel, upstream_ms):
        """The channel tried last (its name) began to answer `upstream_ms` after it was asked."""
        self.channel, self.upstream_ms = channel, upstream_ms

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
        self.usage, self.cost = usage, max(0, min(cost, self.row.hold))
        try:
            settle_when_possible(self.row, (usage, self.cost, status, estimated),
                                 (self.channel, self.attempts, self.upstream_ms), self.settle_by)
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



# A key's row, then its account's: every transaction that touches both takes them in this order,
# so two never wait for each other on PostgreSQL.
HOLD_ON_KEY = Statement("UPDATE apikey SET held = held + ?, last_used = ? "
                        "WHERE id = ? AND (budget IS NULL OR budget - spent - held >= ?)")
RESERVE = Statement("UPDATE account SET balance = balance - ?, held = held + ? "
                    "WHERE id = ? AND balance >= ?")
OPEN_REQUEST = Statement(
    "INSERT INTO requestlog (request_id, account_id, key_id, provider, model, stream, state, hold, "
    "cost, prompt_tokens, cached_tokens, cache_write_tokens, completion_tokens, usage_estimated, "
    "attempts, created, client_ip) VALUES (?, ?, ?, ?, ?, ?, 'held', ?, 0, 0, 0, 0, 0, ?, 0, ?, ?) "
    "RETURNING id")
CLOSE_REQUEST = Statement(
    "UPDATE requestlog SET state = ?, cost = ?, status = ?, finished = ?, usage_estimated = ?, "
    "prompt_tokens = ?, cached_tokens = ?, cache_write_tokens = ?, completion_tokens = ?, "
    "channel = ?, attempts = ?, upstream_ms = ? WHERE id = ? AND state = 'held'")
UNHOLD_KEY = Statement("UPDATE apikey SET held = held - ?, spent = spent + ? WHERE id = ?")
UNHOLD = Statement("UPDATE account SET balance = balance + ?, held = held - ? WHERE id = ?")
RECORD_CHARGE = Statement("INSERT INTO ledgerentry (account_id, amount, kind, request_id, note, created) "
                          "VALUES (?, ?, 'charge', ?, '', ?)")


def hold(key, amount, request_id, provider, model, stream, client_ip=None):
    """Reserve `amount` on the key's budget and from its account's balance, or neither (403);
    the new RequestLog, of a caller at `client_ip`."""
    moment = now()
    # The admission's transaction when there is one (a savepoint would cost two statements):
    # a refusal raised here rolls that transaction back whole.
    with db.transaction():
        if not HOLD_ON_KEY.run(amount, moment, key.id, amount).rowcount:
            raise ApiError(403, "key_budget_exceeded",
                           f"This key's spend budget cannot cover this request's maximum cost of "
                           f"{yuan(amount)} 元; lower max_tokens or raise the key's budget.")
        if not RESERVE.run(amount, amount, key.account_id, amount).rowcount:
            raise ApiError(403, "insufficient_balance",
                           f"The account balance cannot cover this request's maximum cost of "
                           f"{yuan(amount)} 元; top up or lower max_tokens.")
        row_id = OPEN_REQUEST.run(request_id, key.account_id, key.id, provider, model, stream,
                                  amount, False, moment, client_ip).fetchone()[0]
    return RequestLog(id=row_id, request_id=request_id, account=key.account_id, key=key.id,
                      provider=provider, model=model, stream=stream, hold=amount, created=moment,
                      client_ip=client_ip)


def settle(log, usage, cost, status, estimated=False, state="settled", route=(None, 0, None)):
    """Replace the hold with the charge, exactly once. The charge never exceeds the hold. `route`
    is (channel that answered, attempts, its milliseconds)."""
    cost = max(0, min(cost, log.hold))
    moment = now()
    with db.atomic():
        if not CLOSE_REQUEST.run(state, cost, status, moment, estimated, usage.prompt, usage.cached,
                                 usage.cache_write, usage.completion, *route, log.id).rowcount:
            return False
        if log.key_id is not None:
            UNHOLD_KEY.run(log.hold, cost, log.key_id)
        UNHOLD.run(log.hold - cost, log.hold, log.account_id)
        if cost:
            RECORD_CHARGE.run(log.account_id, -cost, log.id, moment)
    return True


def settle_when_possible(row, closing, route, settle_by):
    """`settle(row, *closing, route=route)` now; while the database is unavailable, again in the
    background after growing pauses, until `settle_by`, when HoldSweeper releases the hold instead.
    The caller may already have what the upstream sent: its charge must wait for the database,
    not be lost with the request (docs/money.md)."""
    if not settled_or_unavailable(row, closing, route):
        log.error("Settlement of request %s (%s micro-yuan of a %s hold) waits for the database.",
                  row.request_id, closing[1], row.hold)
        threading.Thread(target=retry_settlement, args=(row, closing, route, settle_by),
                         daemon=True).start()


def retry_settlement(row, closing, route, settle_by):
    for pause in itertools.chain(SETTLE_RETRY_PAUSES, itertools.repeat(SETTLE_RETRY_PAUSES[-1])):
        time.sleep(pause)
        if settled_or_unavailable(row, closing, route):
            log.warning("Settled request %s once the database answered again.", row.request_id)
            return
        if now() >= settle_by:
            log.error("Settlement of request %s LOST: the database stayed unavailable past its "
                      "hold's age; the sweep releases the hold, uncharged (%s micro-yuan).",
                      row.request_id, closing[1])
            return


def settled_or_unavailable(row, closing, route):
    """Settle the request now: True, or False when the database is unavailable (docs/storage.md)."""
    try:
        with db.connection_context():
            settle(row, *closing, route=route)
    except Exception as error:
        if not database.is_unavailable(error):
            raise
        return False
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
    return problems + key_mismatches()


def key_mismatches():
    """Keys whose `spent` and `held` (what their budgets count) differ from their requests."""
    sums = {key: (int(spent or 0), int(held or 0)) for key, spent, held in RequestLog.select(
        RequestLog.key, fn.SUM(RequestLog.cost),
        fn.SUM(Case(None, [(RequestLog.state == "held", RequestLog.hold)], 0)))
        .group_by(RequestLog.key).tuples()}
    return [f"key {key.prefix}: spent {yuan(key.spent)}, held {yuan(key.held)} != its requests' "
            f"{yuan(sums.get(key.id, (0, 0))[0])}, {yuan(sums.get(key.id, (0, 0))[1])}"
            for key in ApiKey.select() if (key.spent, key.held) != sums.get(key.id, (0, 0))]


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
