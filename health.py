"""Channel health, shared by every worker and machine through the database (docs/channels.md).

- Failures in a row (`failures`) put a channel in cool-down (`cooling_until`); an answer resets
  them. Only a failure, or the first answer after one, writes: a healthy channel costs nothing.
- An upstream that refuses the operator's key or funds sets the channel `auto_disabled`, with the
  reason, in the row every worker reads on every request: at once, everywhere.
- A probe re-enables it when the upstream accepts its key again: every CHANNEL_PROBE_SECONDS one
  worker claims the channel in the database and sends it a one-token chat request through the
  provider contract (any vendor can answer one; a bare key check would miss an empty balance).
- Each failed attempt is a `channelfailure` row: the admin page counts them.
"""
import logging
import threading
import time

import metrics
import routing
from channels import OPENAI_COMPATIBLE
from database import Statement, db, unless_unavailable
from errors import ApiError
from logs import fields
from models import Channel, ChannelFailure, Price, now
from providers import PROVIDERS, relay
from providers.base import UpstreamFailure

log = logging.getLogger("qingcheng")

RECORD_FAILURE = Statement("INSERT INTO channelfailure (channel, kind, detail, created) "
                           "VALUES (?, ?, ?, ?)")
COUNT_FAILURE = Statement(
    "UPDATE channel SET failures = failures + 1, "
    "cooling_until = CASE WHEN failures + 1 >= ? THEN ? ELSE cooling_until END "
    "WHERE name = ? RETURNING failures")
AUTO_DISABLE = Statement("UPDATE channel SET state = 'auto_disabled', reason = ?, probed = ? "
                         "WHERE name = ? AND state = 'enabled'")
RECOVER = Statement("UPDATE channel SET failures = 0, cooling_until = NULL WHERE name = ?")
CLAIM_PROBE = Statement("UPDATE channel SET probed = ? WHERE id = ? AND state = 'auto_disabled' "
                        "AND (probed IS NULL OR probed <= ?)")
REENABLE = Statement("UPDATE channel SET state = 'enabled', reason = '', failures = 0, "
                     "cooling_until = NULL WHERE id = ? AND state = 'auto_disabled'")
FAILURES_KEPT_SECONDS = 86400


class Health:
    """What a request's attempts tell of its channels."""

    def __init__(self, failures_to_cool, cooldown_seconds):
        self.failures_to_cool, self.cooldown_seconds = failures_to_cool, cooldown_seconds

    def failed(self, channel, failure):
        """Count a failure of `channel`: a cool-down after enough in a row, or an automatic
        disable when the upstream refused the operator's key or funds."""
        log.warning("upstream failure", extra=fields(channel=channel.name, reason=failure.kind,
                                                      detail=failure.detail, status=failure.status))
        metrics.UPSTREAM_FAILURES.labels(channel.name, failure.kind).inc()
        with unless_unavailable(f"counting channel {channel.name}'s failure"):
            self.count_failure(channel, failure)

    def count_failure(self, channel, failure):
        moment = now()
        with db.connection_context(), db.atomic():
            RECORD_FAILURE.run(channel.name, failure.kind, failure.detail, moment)
            if failure.disables:
                if AUTO_DISABLE.run(failure.detail, moment, channel.name).rowcount:
                    log.error("channel disabled automatically: its upstream refused its key or funds",
                              extra=fields(channel=channel.name, reason=failure.detail))
                return
            row = COUNT_FAILURE.run(self.failures_to_cool, moment + self.cooldown_seconds,
                                    channel.name).fetchone()
        if row and row[0] >= self.failures_to_cool:
            log.warning("channel cooling down", extra=fields(
                channel=channel.name, seconds=self.cooldown_seconds, failures=row[0]))

    def answered(self, channel):
        """The channel answered: its failures in a row are over (written only if there were)."""
        if channel.failures:
            with unless_unavailable(f"channel {channel.name}'s recovery"), db.connection_context():
                RECOVER.run(channel.name)
            log.info("channel answers again", extra=fields(channel=channel.name,
                                                           failures=channel.failures))


class Prober:
    """Run before requests: every `interval` seconds, claim the automatically disabled channels
    that are due for a probe (each is claimed by one worker) and probe them in the background."""

    def __init__(self, interval, keyring, session, timeouts, upstreams):
        self.interval, self.keyring, self.session, self.timeouts = interval, keyring, session, timeouts
        self.upstreams = upstreams  # () -> the environment's upstreams, read when the probe runs
        self.next_run = 0.0

    def __call__(self):
        if time.monotonic() >= self.next_run:
            self.next_run = time.monotonic() + self.interval
            ChannelFailure.delete().where(ChannelFailure.created < now() - FAILURES_KEPT_SECONDS).execute()
            due = self.claim_due()
            if due:
                threading.Thread(target=self.run, args=(due, self.upstreams()), daemon=True).start()

    def run(self, due, upstreams):
        for row in due:
            self.probe(row, upstreams)

    def claim_due(self):
        moment = now()
        rows = Channel.select().where((Channel.state == "auto_disabled")
                                      & (Channel.probed.is_null() | (Channel.probed <= moment - self.interval)))
        return [row for row in rows if CLAIM_PROBE.run(moment, row.id, moment - self.interval).rowcount]

    def probe(self, row, upstreams):
        try:
            accepted, detail = self.accepts_key(row, upstreams)
        except Exception:  # a probe must never take the worker down
            log.exception("channel probe failed", extra=fields(channel=row.name))
            return
        if not accepted:
            log.info("channel still out of service", extra=fields(channel=row.name, reason=detail))
            return
        with unless_unavailable(f"re-enabling channel {row.name}"), db.connection_context():
            if REENABLE.run(row.id).rowcount:
                log.warning("channel re-enabled: its upstream accepts its key again",
                            extra=fields(channel=row.name))

    def accepts_key(self, row, upstreams):
        """(accepted, what the upstream said) of a one-token chat request to the channel. Any
        answer but a refusal of the key or funds, a server error or none means the key passes."""
        channel = routing.upstream_of(row, upstreams, self.keyring)
        if channel is None:
            return False, "not configured on this server"
        with db.connection_context():
            model = probe_model(row)
        body = routing.aimed({"model": model, "messages": [{"role": "user", "content": "ping"}],
                              "max_tokens": 1, "stream": False}, channel)
        try:
            relay.open_upstream(self.session, channel, body, False, self.timeouts).close()
        except UpstreamFailure as failure:
            return failure.kind == "rate_limited", failure.detail
        except ApiError as error:
            return True, f"HTTP {error.status}"  # the upstream judged the request: the key passed
        return True, "HTTP 200"


def probe_model(row):
    """A model the channel serves: its first listed, else its provider's first priced or known."""
    if row.model_list:
        return row.model_list[0]
    provider = row.name if row.provider == OPENAI_COMPATIBLE else row.provider
    priced = Price.select(Price.model).where(Price.provider == provider).order_by(Price.model).first()
    known = PROVIDERS[provider].models if provider in PROVIDERS else ()
    return priced.model if priced else (known[0] if known else "default")
