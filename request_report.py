"""What one API request did, filled in along its path and written once when it ends: one log line
and its metrics (README "Operations"). The request path pays for this one place.

The gateway makes a Report as a request under /v1/ arrives and tells it the key, the route and the
Bill; the Bill knows the channel, the attempts, the usage and the cost. A whole answer's report is
written as the response leaves; a stream's when it settles, after the response began.
"""
import logging
import time

import metrics
from logs import fields
from money import yuan

log = logging.getLogger("qingcheng")


class Report:
    __slots__ = ("request_id", "path", "started", "key", "provider", "model", "stream", "bill",
                 "limit", "first_byte", "deferred", "written")

    def __init__(self, request_id, path):
        self.request_id, self.path, self.started = request_id, path, time.monotonic()
        self.key = self.bill = self.limit = self.first_byte = None
        self.provider = self.model = ""
        self.stream = self.deferred = self.written = False
        metrics.IN_FLIGHT.inc()

    def routed(self, provider, model, stream):
        self.provider, self.model, self.stream = provider, model, stream

    def answer_ready(self):
        """The answer, or a stream's first event, is ready to send (the first call counts)."""
        if self.first_byte is None:
            self.first_byte = time.monotonic() - self.started

    def finish(self, status):
        """Write the line and the metrics, once."""
        if self.written:
            return
        self.written = True
        seconds = time.monotonic() - self.started
        metrics.IN_FLIGHT.dec()
        bill, usage, cost = self.bill, None, 0
        if bill is not None and bill.closed:
            usage, cost = bill.usage, bill.cost
        self.count(status, seconds, usage, cost)
        key = self.key
        log.info("request", extra={"request_id": self.request_id, **fields(
            path=self.path, account=key.account_id if key else "-", key=key.prefix if key else "-",
            provider=self.provider or "-", channel=(bill and bill.channel) or "-",
            model=self.model or "-", stream=self.stream, status=status,
            prompt_tokens=usage.prompt if usage else 0, cached_tokens=usage.cached if usage else 0,
            completion_tokens=usage.completion if usage else 0, cost=yuan(cost),
            ms=round(seconds * 1000), upstream_ms=(bill and bill.upstream_ms) or "-",
            attempts=bill.attempts if bill else 0, limit=self.limit or "-")})

    def count(self, status, seconds, usage, cost):
        provider, model = self.provider, self.model
        metrics.REQUESTS.labels(provider, model, str(status)).inc()
        metrics.DURATION.labels(provider, "true" if self.stream else "false").observe(seconds)
        if self.first_byte is not None:
            metrics.FIRST_BYTE.observe(self.first_byte)
        if self.limit:
            metrics.RATE_LIMITED.labels(self.limit).inc()
        if usage:
            for kind, tokens in (("prompt", usage.prompt), ("cached", usage.cached),
                                 ("completion", usage.completion)):
                if tokens:
                    metrics.TOKENS.labels(provider, model, kind).inc(tokens)
        if cost:
            metrics.SPEND.labels(provider, model).inc(cost / 1_000_000)
