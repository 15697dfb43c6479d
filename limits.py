"""Per-key rate limits (docs/limits.md): rpm, tpm and concurrency. A rejected request costs nothing.

Without Redis the database is the limiter. It counts the request log itself, inside the
transaction that holds the request's cost: the key's rows created in the last 60 seconds (rpm),
their tokens settled in the last 60 seconds (tpm), its rows still held (concurrency). That is
exact across all workers and machines that share the database.

With REDIS_URL the counters live in Redis (one Lua script admits or refuses atomically, every key
expires). If Redis cannot be reached the database limiter takes over: limits stay exact, because
the request log is always written; Redis is retried after a few seconds.
"""
import logging
import math
import time
import uuid
from contextlib import contextmanager
from dataclasses import dataclass, field

from peewee import fn

from errors import ApiError
from database import db, is_postgres
from models import ApiKey, RequestLog, now

WINDOW = 60.0
log = logging.getLogger("qingcheng")


@dataclass
class Ticket:
    """An admission: the rate-limit headers to send, and the Redis entry to close at the end."""
    headers: dict = field(default_factory=dict)
    member: str | None = None


def limiter_for(redis_url, in_flight_ttl):
    return RedisLimiter(redis_url, in_flight_ttl) if redis_url else DatabaseLimiter()


def has_limits(key):
    return bool(key.rpm or key.tpm or key.concurrency)


class DatabaseLimiter:
    @contextmanager
    def admission(self, key):
        """A transaction in which the key is within its limits (else 429); the hold goes in it."""
        with db.atomic():
            yield Ticket(check_in_database(key) if has_limits(key) else {})

    def finished(self, key, ticket, tokens):
        pass  # the settled request row is the record


def current_headers(key):
    """The headers of a key's limits for a response that admits nothing; the request log is the
    record whichever limiter admits."""
    return counts_in_database(key).headers(key, admitted=False) if has_limits(key) else {}


def check_in_database(key):
    if is_postgres():  # serialise one key's admissions; SQLite's BEGIN IMMEDIATE already does
        ApiKey.select(ApiKey.id).where(ApiKey.id == key.id).for_update().execute()
    return counts_in_database(key).verdict(key)


def counts_in_database(key):
    moment = now()
    mine = RequestLog.key == key.id
    counts = Counts()
    if key.rpm:
        counts.requests, oldest = (RequestLog.select(fn.COUNT(RequestLog.id), fn.MIN(RequestLog.created))
                                   .where(mine & (RequestLog.created > moment - WINDOW)).tuples().get())
        counts.requests_reset = oldest + WINDOW - moment if oldest else 0.0
    if key.tpm:
        used, oldest = (RequestLog.select(
            fn.SUM(RequestLog.prompt_tokens + RequestLog.completion_tokens), fn.MIN(RequestLog.finished))
            .where(mine & (RequestLog.finished > moment - WINDOW)).tuples().get())
        counts.tokens, counts.tokens_reset = int(used or 0), (oldest + WINDOW - moment if oldest else 0.0)
    if key.concurrency:
        counts.in_flight = RequestLog.select().where(mine & (RequestLog.state == "held")).count()
    return counts


@dataclass
class Counts:
    """What a key has used in the window, and the 429 or headers that follow from it."""
    requests: int = 0
    requests_reset: float = 0.0
    tokens: int = 0
    tokens_reset: float = 0.0
    in_flight: int = 0

    def headers(self, key, admitted):
        """The rate-limit headers; an `admitted` request is in the window itself from now on, so
        with none before it the window resets a whole minute from now."""
        headers = {}
        if key.rpm:
            reset = self.requests_reset if self.requests else (WINDOW if admitted else 0.0)
            headers.update(_headers("requests", key.rpm, key.rpm - self.requests - admitted, reset))
        if key.tpm:
            headers.update(_headers("tokens", key.tpm, key.tpm - self.tokens, self.tokens_reset))
        return headers

    def verdict(self, key):
        """The headers of an admission, or the 429 (carrying them) when a limit is reached."""
        failure = self.refusal(key)
        headers = self.headers(key, admitted=failure is None)
        if failure:
            failure.headers.update(headers)
            raise failure
        return headers

    def refusal(self, key):
        if key.rpm and self.requests >= key.rpm:
            return RateLimited("rpm", f"this key may make {key.rpm} requests per minute", self.requests_reset)
        if key.tpm and self.tokens >= key.tpm:
            return RateLimited("tpm", f"this key may use {key.tpm} tokens per minute", self.tokens_reset)
        if key.concurrency and self.in_flight >= key.concurrency:
            return RateLimited("concurrency", f"this key may have {key.concurrency} requests in flight", 1)
        return None


def _headers(kind, limit, remaining, reset):
    return {f"x-ratelimit-limit-{kind}": str(limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, remaining)),
            f"x-ratelimit-reset-{kind}": f"{max(0.0, reset):.3f}s"}


class RateLimited(ApiError):
    """A key's limit is reached: `limit` names it (rpm, tpm, concurrency) for the metrics."""

    def __init__(self, limit, what, reset):
        super().__init__(429, "rate_limit_exceeded", f"Rate limit reached: {what}.",
                         headers={"Retry-After": str(max(1, math.ceil(reset)))})
        self.limit = limit


# Admit or refuse atomically, on Redis's clock. Sorted sets per key: rpm holds one member per
# admission scored by time; tpm one "member:tokens" per settled request; inflight one member per
# running request scored by when it is presumed dead (a crashed worker's entries expire).
ADMIT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local window, rpm, tpm, conc, member, ttl =
  tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4]), ARGV[5], tonumber(ARGV[6])
local count, count_reset, used, used_reset, running = 0, 0, 0, 0, 0
if rpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  count = redis.call('ZCARD', KEYS[1])
  local oldest = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if oldest[2] then count_reset = tonumber(oldest[2]) + window - now end
end
if tpm > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - window)
  local entries = redis.call('ZRANGE', KEYS[2], 0, -1, 'WITHSCORES')
  for i = 1, #entries, 2 do
    used = used + tonumber(string.match(entries[i], ':(%d+)$'))
    if i == 1 then used_reset = tonumber(entries[i + 1]) + window - now end
  end
end
if conc > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
  running = redis.call('ZCARD', KEYS[3])
end
local admitted = (rpm == 0 or count < rpm) and (tpm == 0 or used < tpm) and (conc == 0 or running < conc)
if admitted then
  if rpm > 0 then
    redis.call('ZADD', KEYS[1], now, member)
    redis.call('PEXPIRE', KEYS[1], math.ceil(window * 1000) + 1000)
  end
  if conc > 0 then
    redis.call('ZADD', KEYS[3], now + ttl, member)
    redis.call('PEXPIRE', KEYS[3], math.ceil(ttl * 1000) + 1000)
  end
end
return {tostring(count), tostring(count_reset), tostring(used), tostring(used_reset), tostring(running)}
"""

FINISH = """
local t = redis.call('TIME')
redis.call('ZREM', KEYS[3], ARGV[1])
if tonumber(ARGV[2]) >= 0 then
  redis.call('ZADD', KEYS[2], tonumber(t[1]) + tonumber(t[2]) / 1e6, ARGV[1] .. ':' .. ARGV[2])
  redis.call('PEXPIRE', KEYS[2], math.ceil(tonumber(ARGV[3]) * 1000) + 1000)
end
"""


class RedisLimiter:
    RETRY_AFTER_FAILURE = 5.0

    def __init__(self, url, in_flight_ttl):
        import redis
        self.errors = redis.RedisError
        self.client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
        self.admit_script = self.client.register_script(ADMIT)
        self.finish_script = self.client.register_script(FINISH)
        self.in_flight_ttl = in_flight_ttl
        self.down_until = 0.0
        self.fallback = DatabaseLimiter()

    @contextmanager
    def admission(self, key):
        ticket = self._admit(key) if has_limits(key) else Ticket()
        if ticket is None:  # Redis unreachable: the database decides
            with self.fallback.admission(key) as ticket:
                yield ticket
            return
        try:
            with db.atomic():
                yield ticket
        except BaseException:
            self._forget(key, ticket)
            raise

    def finished(self, key, ticket, tokens):
        if ticket.member:
            self._call(self.finish_script, key,
                       [ticket.member, tokens if key.tpm else -1, WINDOW])

    def redis_problem(self):
        """None when Redis answers a PING now (within the client's half-second timeouts), else why
        it does not."""
        try:
            self.client.ping()
        except self.errors as error:
            return f"{type(error).__name__}: {error}"
        return None

    def _admit(self, key):
        member = uuid.uuid4().hex
        result = self._call(self.admit_script, key, [
            WINDOW, key.rpm or 0, key.tpm or 0, key.concurrency or 0, member, self.in_flight_ttl])
        if result is None:
            return None
        requests, requests_reset, tokens, tokens_reset, in_flight = (float(x) for x in result)
        headers = Counts(int(requests), requests_reset, int(tokens), tokens_reset,
                         int(in_flight)).verdict(key)
        return Ticket(headers, member)

    def _forget(self, key, ticket):
        """Undo an admission whose request was refused after all (e.g. 403)."""
        if ticket.member:
            rpm, _, in_flight = _names(key)
            try:
                self.client.pipeline().zrem(rpm, ticket.member).zrem(in_flight, ticket.member).execute()
            except self.errors:
                pass  # the entries expire on their own

    def _call(self, script, key, args):
        if time.monotonic() < self.down_until:
            return None
        try:
            return script(keys=_names(key), args=args)
        except self.errors as error:
            self.down_until = time.monotonic() + self.RETRY_AFTER_FAILURE
            log.warning("Redis unreachable (%s); the database enforces rate limits for %ss.",
                        type(error).__name__, self.RETRY_AFTER_FAILURE)
            return None


def _names(key):
    return [f"qc:rpm:{key.id}", f"qc:tpm:{key.id}", f"qc:inflight:{key.id}"]
