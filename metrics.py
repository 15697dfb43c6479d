"""Prometheus metrics at GET /metrics (README "Operations").

Under gunicorn every worker writes its values to files in PROMETHEUS_MULTIPROC_DIR, which
gunicorn.conf.py prepares before the workers start; a scrape, whichever worker serves it, sums
them all. Without it (the test client, `flask run`) the values live in this process. The
channels' state is read from the database at scrape time. A request's metrics are updated once,
when it ends (request_report.py); upstream failures as they happen (health.py).
"""
import hmac
import ipaddress
import os

from flask import Blueprint, Response, abort, current_app, request
from prometheus_client import (CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram,
                               generate_latest, multiprocess)
from prometheus_client.core import GaugeMetricFamily

import key_policy
from models import Channel, now

REGISTRY = CollectorRegistry()
# Seconds; chat answers run from a fraction of a second to minutes.
DURATION_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600)
FIRST_BYTE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

REQUESTS = Counter("qingcheng_requests", "API requests answered, by status",
                   ["provider", "model", "status"], registry=REGISTRY)
DURATION = Histogram("qingcheng_request_duration_seconds",
                     "From a request's arrival to its end (a stream's last byte)",
                     ["provider", "stream"], buckets=DURATION_BUCKETS, registry=REGISTRY)
FIRST_BYTE = Histogram("qingcheng_first_byte_seconds",
                       "From a request's arrival until its answer (a stream's first event) is ready",
                       buckets=FIRST_BYTE_BUCKETS, registry=REGISTRY)
TOKENS = Counter("qingcheng_tokens", "Tokens charged: prompt (all input), cached (of the prompt), "
                 "completion", ["provider", "model", "kind"], registry=REGISTRY)
SPEND = Counter("qingcheng_spend_yuan", "Charged to the callers, in yuan",
                ["provider", "model"], registry=REGISTRY)
UPSTREAM_FAILURES = Counter("qingcheng_upstream_failures", "Failed attempts of a channel",
                            ["channel", "reason"], registry=REGISTRY)
RATE_LIMITED = Counter("qingcheng_rate_limited", "Requests refused by a key's rate limit",
                       ["limit"], registry=REGISTRY)
IN_FLIGHT = Gauge("qingcheng_requests_in_flight", "API requests begun and not yet ended",
                  multiprocess_mode="livesum", registry=REGISTRY)

blueprint = Blueprint("metrics", __name__)


class ChannelsUp:
    """qingcheng_channel_up{channel}: 1 for a channel in service, 0 disabled or cooling down."""

    def collect(self):
        family = GaugeMetricFamily("qingcheng_channel_up", "1 in service, 0 disabled or cooling down",
                                   labels=["channel"])
        moment = now()
        for name, state, cooling_until in Channel.select(
                Channel.name, Channel.state, Channel.cooling_until).tuples():
            up = state == "enabled" and (cooling_until is None or cooling_until <= moment)
            family.add_metric([name], 1 if up else 0)
        yield family


REGISTRY.register(ChannelsUp())


@blueprint.get("/metrics")
def scrape():
    if not may_scrape():
        abort(404)
    return Response(generate_latest(scrape_registry()), content_type=CONTENT_TYPE_LATEST)


def scrape_registry():
    """This process's registry, or under gunicorn one that sums every worker's files."""
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(ChannelsUp())
    return registry


def may_scrape():
    """From loopback (the caller as key_policy reads it, through trusted proxies), or with
    `Authorization: Bearer $METRICS_TOKEN`."""
    token = current_app.config["METRICS_TOKEN"]
    scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
    if token and scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
        return True
    caller = key_policy.caller_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                       current_app.config["FORWARDED_PROXIES"])
    try:
        return ipaddress.ip_address(caller).is_loopback
    except ValueError:
        return False
