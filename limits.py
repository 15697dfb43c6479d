"""Per-key rate limits (SPEC §4): rpm, tpm and concurrency, checked in the same transaction that
holds the request's cost, so that a rejected request costs nothing and limits hold across workers.

The database limiter counts the request log itself: a key's rows created in the last 60 seconds
(rpm), their tokens settled in the last 60 seconds (tpm), its rows still held (concurrency).
"""
import math
from contextlib import contextmanager

from peewee import fn

from errors import ApiError
from models import ApiKey, RequestLog, db, is_postgres, now

WINDOW = 60.0


def limiter_for(redis_url):
    return DatabaseLimiter()


class DatabaseLimiter:
    @contextmanager
    def admission(self, key):
        """Within a transaction: raise a 429 if the key is over a limit, else yield its headers."""
        with db.atomic():
            if key.rpm or key.tpm or key.concurrency:
                headers = check_limits(key)
            else:
                headers = {}
            yield headers


def check_limits(key):
    if is_postgres():  # serialise admissions of one key; SQLite's BEGIN IMMEDIATE already does
        ApiKey.select(ApiKey.id).where(ApiKey.id == key.id).for_update().execute()
    moment = now()
    mine = RequestLog.key == key.id
    headers = {}
    failure = None
    if key.rpm:
        recent = RequestLog.select(RequestLog.created).where(mine & (RequestLog.created > moment - WINDOW))
        count, oldest = recent.select(fn.COUNT(1), fn.MIN(RequestLog.created)).scalar(as_tuple=True)
        reset = (oldest + WINDOW - moment) if count else 0.0
        headers.update(_headers("requests", key.rpm, key.rpm - count - (count < key.rpm), reset))
        if count >= key.rpm:
            failure = failure or _too_many("requests per minute", key.rpm, reset)
    if key.tpm:
        settled = RequestLog.select(
            fn.COALESCE(fn.SUM(RequestLog.prompt_tokens + RequestLog.completion_tokens), 0),
            fn.MIN(RequestLog.finished)).where(mine & (RequestLog.finished > moment - WINDOW))
        used, oldest = settled.scalar(as_tuple=True)
        reset = (oldest + WINDOW - moment) if oldest else 0.0
        headers.update(_headers("tokens", key.tpm, key.tpm - int(used), reset))
        if used >= key.tpm:
            failure = failure or _too_many("tokens per minute", key.tpm, reset)
    if key.concurrency:
        running = RequestLog.select().where(mine & (RequestLog.state == "held")).count()
        if running >= key.concurrency:
            failure = failure or ApiError(
                429, "rate_limit_exceeded",
                f"This key already has {key.concurrency} requests in flight, its limit.",
                headers={"Retry-After": "1"})
    if failure:
        failure.headers.update(headers)
        raise failure
    return headers


def _headers(kind, limit, remaining, reset):
    return {f"x-ratelimit-limit-{kind}": str(limit),
            f"x-ratelimit-remaining-{kind}": str(max(0, remaining)),
            f"x-ratelimit-reset-{kind}": f"{max(0.0, reset):.3f}s"}


def _too_many(what, limit, reset):
    return ApiError(429, "rate_limit_exceeded",
                    f"Rate limit reached: this key may use {limit} {what}.",
                    headers={"Retry-After": str(max(1, math.ceil(reset)))})
