"""What the pages read: an account's keys, its requests page by page, its spending per day, the
accounts overview, and the channels' recent health."""
import statistics

from peewee import JOIN, fn

from database import is_postgres
from models import Account, ApiKey, Channel, ChannelFailure, RequestLog, now

DAY = 86400
HEALTH_WINDOW = 3600  # "recent" on the channel page: the last hour
LATENCY_SAMPLE = 200


def account_key(account_id, key_id):
    """The account's key with that id, or None — also when the key is someone else's."""
    return ApiKey.get_or_none((ApiKey.id == key_id) & (ApiKey.account == account_id))


def keys_of(account_id):
    return list(ApiKey.select().where(ApiKey.account == account_id).order_by(ApiKey.id.desc()))


def accounts_overview():
    """Every account with its number of keys (`key_count`), by name."""
    return list(Account.select(Account, fn.COUNT(ApiKey.id).alias("key_count"))
                .join(ApiKey, JOIN.LEFT_OUTER).group_by(Account.id).order_by(Account.name))


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


def channel_health(window=HEALTH_WINDOW):
    """{channel name: {answered, failed, rate (whole %, None without attempts), median_ms, last_error
    (a ChannelFailure or None)}} over the last `window` seconds. An attempt answered when the
    channel served the request (a stream that broke part-way counts as a failure only)."""
    since = now() - window
    answered = dict(RequestLog.select(RequestLog.channel, fn.COUNT(RequestLog.id))
                    .where(RequestLog.channel.is_null(False) & (RequestLog.created >= since)
                           & (RequestLog.status < 500))
                    .group_by(RequestLog.channel).tuples())
    failed = dict(ChannelFailure.select(ChannelFailure.channel, fn.COUNT(ChannelFailure.id))
                  .where(ChannelFailure.created >= since).group_by(ChannelFailure.channel).tuples())
    health = {}
    for name, in Channel.select(Channel.name).tuples():
        good, bad = answered.get(name, 0), failed.get(name, 0)
        latencies = [ms for ms, in RequestLog.select(RequestLog.upstream_ms)
                     .where((RequestLog.channel == name) & (RequestLog.created >= since)
                            & RequestLog.upstream_ms.is_null(False))
                     .order_by(RequestLog.created.desc()).limit(LATENCY_SAMPLE).tuples()]
        health[name] = {
            "answered": good, "failed": bad,
            "rate": 100 * good // (good + bad) if good + bad else None,
            "median_ms": round(statistics.median(latencies)) if latencies else None,
            "last_error": ChannelFailure.select().where(ChannelFailure.channel == name)
                                        .order_by(ChannelFailure.created.desc()).first()}
    return health
