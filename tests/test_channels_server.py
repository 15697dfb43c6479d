"""Channels under real gunicorn with three gevent workers and four fake upstream processes, each
with a key of its own: failover order and its bounds, weights measured over hundreds of requests,
an automatic disable seen by every worker and undone by a probe, no failover after the first byte
nor for the caller's own 4xx, exact charges through every failure pattern, keys absent from the
database file, and a key's budget exact under 200 concurrent requests."""
import os
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from helpers import (ROOT, FakeUpstream, GatewayServer, add_channel, chat, expected_cost, fake_upstreams,
                     free_port, fresh, headers, sse_json, wait_until, worker_pids)
from models import ApiKey, Channel, ChannelFailure

WORKERS = 3
# The access log names the worker (its pid) that served each request.
ACCESS_LOG = "--access-logformat '%(p)s \"%(r)s\" %(s)s'"


@pytest.fixture(scope="module")
def fleet():
    with fake_upstreams(4) as started:
        yield started


@pytest.fixture(scope="module")
def gunicorn_channels(database, fleet, tmp_path_factory):
    """No DEEPSEEK_API_KEY: only the channels each test adds. Failures never cool a channel here
    (the test client's tests cover cool-downs), so that every request shows the whole order."""
    running = GatewayServer(database, fleet[0].url, workers=WORKERS, gunicorn_args=ACCESS_LOG,
                            log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
                            DEEPSEEK_API_KEY="", CHANNEL_PROBE_SECONDS="1",
                            CHANNEL_FAILURES_TO_COOL="1000")
    yield running
    running.stop()


@pytest.fixture
def fakes(app, fleet):
    return fresh(app, fleet)


@pytest.fixture
def server(fakes, gunicorn_channels):
    return gunicorn_channels


def post(server, body, token, new_connection=False):
    sent = {**headers(token), **({"Connection": "close"} if new_connection else {})}
    return requests.post(server.url + "/v1/chat/completions", json=body, headers=sent, timeout=30)


def chat_requests(fake):
    """What reached a fake upstream from callers, leaving out the probes' one-token requests."""
    return [body for body in fake.stats()["bodies"] if body.get("max_tokens") != 1]


def ledger_check(database):
    return subprocess.run([sys.executable, "-m", "flask", "--app", "gateway", "ledger", "check"], cwd=ROOT,
                          env={**os.environ, "DATABASE_URL": database}, capture_output=True, text=True,
                          timeout=60)


# --- order, bounds, weights ---------------------------------------------------------------------

def test_failover_tries_the_same_priority_then_lower_ones_at_most_three_channels(app, server, bank, fakes):
    alpha, bravo, charlie, delta = fakes
    for name, fake, priority in (("a", alpha, 1), ("b", bravo, 1), ("c", charlie, 0), ("d", delta, -1)):
        add_channel(app, name, fake, priority=priority)
        fake.behave(status=503)
    account = bank.account("10")
    response = post(server, chat(), bank.key(account))
    assert (response.status_code, response.json()["error"]["code"]) == (502, "upstream_error")
    tried = [f.channel for f in ChannelFailure.select().order_by(ChannelFailure.id)]
    assert sorted(tried[:2]) == ["a", "b"] and tried[2:] == ["c"]
    assert len(chat_requests(delta)) == 0
    [row] = bank.requests(account)
    assert (row.channel, row.attempts, row.cost) == (None, 3, 0)

    charlie.behave()
    response = post(server, chat(fake={"chunks": 2}), bank.key(account))
    assert response.status_code == 200
    assert (bank.requests(account)[-1].channel, bank.requests(account)[-1].attempts) == ("c", 3)
    assert bank.charges(account) == [-expected_cost(completion=2)]
    bank.assert_consistent()


def test_channels_of_one_priority_share_requests_by_weight(app, server, bank, fakes):
    alpha, bravo, _, _ = fakes
    add_channel(app, "light", alpha, weight=1)
    add_channel(app, "heavy", bravo, weight=3)
    token = bank.key(bank.account("100"))
    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(lambda _: post(server, chat(), token).status_code, range(400)))
    assert statuses == [200] * 400
    light, heavy = len(chat_requests(alpha)), len(chat_requests(bravo))
    assert light + heavy == 400
    # Binomial(400, 1/4): mean 100, standard deviation 8.7; five deviations either way.
    assert 57 <= light <= 143


# --- health shared by every worker --------------------------------------------------------------

def test_an_automatic_disable_is_seen_by_every_worker_and_a_probe_re_enables_the_channel(
        app, server, bank, fakes):
    alpha, bravo, _, _ = fakes
    add_channel(app, "broke", alpha, priority=1)
    add_channel(app, "steady", bravo)
    alpha.behave(status=402, message="Insufficient Balance", code="insufficient_balance")
    account = bank.account("10")
    token = bank.key(account)
    assert post(server, chat(), token).status_code == 200
    broke = Channel.get(name="broke")
    assert broke.state == "auto_disabled" and "HTTP 402 insufficient_balance" in broke.reason

    pids, seen = worker_pids(server.log_text()), set()
    log_start = len(server.log_text())
    for _ in range(300):
        assert post(server, chat(), token, new_connection=True).status_code == 200
        seen = set(re.findall(r"<(\d+)> \"POST /v1/chat", server.log_text()[log_start:]))
        if seen >= pids:
            break
    assert seen == pids and len(pids) == WORKERS
    assert len(chat_requests(alpha)) == 1  # no worker sent it another caller's request
    assert {row.channel for row in bank.requests(account)} == {"steady"}
    assert re.search(r"channel disabled automatically: .* channel=broke ", server.log_text())

    alpha.behave()  # the account is topped up: the next probe finds the key accepted
    for _ in range(200):
        requests.get(server.url + "/v1/models", timeout=5)  # requests (not /healthz) run the probes
        if Channel.get(name="broke").state == "enabled":
            break
        time.sleep(0.1)
    assert Channel.get(name="broke").state == "enabled"
    assert re.search(r"channel re-enabled: .* channel=broke\b", server.log_text())
    assert post(server, chat(), token).status_code == 200
    assert bank.requests(account)[-1].channel == "broke"


def test_an_operators_disable_stays_whatever_the_probe(app, server, bank, fakes):
    alpha, bravo, _, _ = fakes
    add_channel(app, "parked", alpha, priority=1)
    add_channel(app, "steady", bravo)
    Channel.update(state="disabled").where(Channel.name == "parked").execute()
    token = bank.key(bank.account("10"))
    for _ in range(5):
        assert post(server, chat(), token).status_code == 200
        time.sleep(0.3)  # a probe runs at most every second
    assert Channel.get(name="parked").state == "disabled"
    assert alpha.stats()["requests"] == 0


# --- what never fails over ----------------------------------------------------------------------

def test_a_stream_broken_after_its_first_byte_is_not_retried(app, server, bank, fakes):
    alpha, bravo, _, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(reset_after=3)
    account = bank.account("10")
    response = post(server, chat(stream=True, fake={"chunks": 8}), bank.key(account))
    assert sse_json(response.text)[-1]["error"]["code"] == "upstream_error"
    assert bravo.stats()["requests"] == 0
    bank.assert_consistent()


@pytest.mark.parametrize("status", [400, 422])
def test_the_callers_own_4xx_is_not_retried(app, server, bank, fakes, status):
    alpha, bravo, _, _ = fakes
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(status=status, message="bad parameter")
    response = post(server, chat(), bank.key())
    assert (response.status_code, response.json()["error"]["message"]) == (status, "bad parameter")
    assert bravo.stats()["requests"] == 0


# --- money through every failure pattern --------------------------------------------------------

# What the failing channel does, and which requests it fails: a whole answer, a stream, or both.
PATTERNS = {
    "connection refused": (None, "both"), "timeout": ({"delay": 4}, "both"),
    "429": ({"status": 429}, "both"), "500": ({"status": 500}, "both"),
    "503": ({"status": 503}, "both"), "401": ({"status": 401}, "both"),
    "403": ({"status": 403}, "both"), "402": ({"status": 402}, "both"),
    "malformed answer": ({"malformed": True}, "whole"),
    "stream ends before its first event": ({"reset_after": -1}, "stream"),
}


@pytest.mark.parametrize("pattern", PATTERNS)
def test_every_failure_pattern_charges_exactly_what_was_served(app, server, bank, fakes, database, pattern):
    alpha, bravo, _, _ = fakes
    behaviour, fails = PATTERNS[pattern]
    add_channel(app, "failing", Nowhere(alpha.key) if behaviour is None else alpha, priority=1)
    alpha.behave(**(behaviour or {}))
    add_channel(app, "serving", bravo)
    account = bank.account("10")
    token = bank.key(account)
    whole = post(server, chat(fake={"chunks": 3}), token)
    streamed = post(server, chat(stream=True, fake={"chunks": 5}), token)
    assert whole.status_code == streamed.status_code == 200
    assert len(sse_json(streamed.text)) == 6  # role and five pieces: nothing of a failed try
    assert bank.charges(account) == [-expected_cost(completion=3), -expected_cost(completion=5)]
    assert [row.channel for row in bank.requests(account)] == [
        "serving" if fails in ("both", "whole") else "failing",
        "serving" if fails in ("both", "stream") else "failing"]
    assert bank.held(account) == 0
    checked = ledger_check(database)
    assert checked.returncode == 0, checked.stdout + checked.stderr


class Nowhere:
    """An upstream address where nothing listens."""

    def __init__(self, key):
        self.url, self.key = f"http://127.0.0.1:{free_port()}/v1", key


# --- keys at rest -------------------------------------------------------------------------------

def test_a_channel_key_is_absent_from_the_database_files_and_the_log(app, server, bank, database):
    if not database.startswith("sqlite"):
        pytest.skip("the bytes of a SQLite file")
    secret = FakeUpstream(key="sk-find-me-if-you-can-4242424242")
    try:
        add_channel(app, "secret", secret)
        assert post(server, chat(), bank.key(bank.account("10"))).status_code == 200
        assert secret.stats()["authorizations"] == [f"Bearer {secret.key}"]
    finally:
        secret.stop()
    path = Path(database[len("sqlite:///"):])
    stored = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*") if not p.name.endswith(".key"))
    assert b"find-me-if-you-can" not in stored and b"4242424242" not in stored
    assert "find-me-if-you-can" not in server.log_text()


# --- a key's budget, exact under concurrency ----------------------------------------------------

@pytest.mark.slow
def test_a_budget_covering_fifty_holds_serves_exactly_fifty_of_two_hundred_concurrent_requests(
        app, bank, fakes, database, tmp_path):
    alpha = fakes[0]
    add_channel(app, "only", alpha)
    running = GatewayServer(database, alpha.url, workers=4, log_path=tmp_path / "gunicorn.log",
                            DEEPSEEK_API_KEY="", UPSTREAM_READ_TIMEOUT="60", UPSTREAM_DEADLINE="120")
    try:
        account = bank.account("1000")
        probe_token = bank.key(account)
        assert post(running, chat(fake={"chunks": 1}), probe_token).status_code == 200
        hold = bank.requests(account)[0].hold
        token = bank.key(account, budget=50 * hold)
        alpha.behave(gate=True)  # every request waits upstream until the gate opens
        with ThreadPoolExecutor(200) as pool:
            answers = [pool.submit(post, running, chat(fake={"chunks": 1}), token) for _ in range(200)]
            wait_until(lambda: sum(answer.done() for answer in answers) >= 150, timeout=60)
            alpha.wait_for(lambda stats: stats["requests"] >= 51, timeout=60)
            alpha.behave()
            statuses = [answer.result().status_code for answer in answers]
    finally:
        running.stop()
    assert statuses.count(200) == 50 and statuses.count(403) == 150
    key = ApiKey.lookup(token)
    assert ApiKey.get_by_id(key.id).spent == 50 * expected_cost(completion=1) and ApiKey.get_by_id(key.id).held == 0
    bank.assert_consistent()
