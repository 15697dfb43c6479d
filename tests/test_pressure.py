"""Exact under pressure (docs/money.md, docs/limits.md): real gunicorn with 4 gevent workers, many
clients at once. Marked slow: `pytest -m "not slow"` leaves them out.

On SQLite the database limits the rates; when TEST_REDIS_URL is set (CI's PostgreSQL run), Redis does.
"""
import json
import os
import random
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

import billing
import models
import money
from helpers import PRICE, GatewayServer, chat, headers
from models import Price, RequestLog

pytestmark = pytest.mark.slow
WORKERS = 4
REDIS_URL = os.environ.get("TEST_REDIS_URL")


def start(database, upstream, tmp_path_factory, **env):
    redis_env = {"REDIS_URL": REDIS_URL} if REDIS_URL else {}
    return GatewayServer(database, upstream.url, workers=WORKERS,
                         log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
                         **redis_env, **env)


@pytest.fixture(scope="module")
def servers(database, upstream_server, tmp_path_factory):
    """Two gateway processes on different ports, sharing the database (and Redis when set)."""
    if REDIS_URL:
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()
    running = []
    try:
        for _ in range(2):
            running.append(start(database, upstream_server, tmp_path_factory))
        yield running
    finally:
        for server in running:
            server.stop()


@pytest.fixture
def gateways(app, servers):
    if REDIS_URL:
        import redis
        redis.Redis.from_url(REDIS_URL).flushdb()
    return servers


def post(url, body, token, **kwargs):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return requests.post(url + "/v1/chat/completions", data=data, timeout=30,
                         headers={**headers(token), "Content-Type": "application/json"}, **kwargs)


def no_hold_remains(account, timeout=10.0):
    deadline = time.monotonic() + timeout
    while RequestLog.select().where((RequestLog.account == account.id)
                                    & (RequestLog.state == "held")).exists():
        assert time.monotonic() < deadline, "holds remain"
        time.sleep(0.05)
    return True


def overspend_round(urls, bank, upstream):
    """200 requests at once on an account that covers exactly 50 of them."""
    body = json.dumps(chat(max_tokens=50, fake={"delay": 0.2, "usage": {
        "prompt_tokens": 10**6, "completion_tokens": 10**6}})).encode()  # charge = the whole hold
    hold = billing.max_cost(Price(**PRICE), billing.prompt_token_bound(len(body), 1), 50)
    account = bank.account(money.yuan(50 * hold))
    token = bank.key(account)
    with ThreadPoolExecutor(200) as pool:
        statuses = list(pool.map(lambda i: post(urls[i % len(urls)], body, token).status_code,
                                 range(200)))
    assert statuses.count(200) == 50 and statuses.count(403) == 150
    assert upstream.stats()["requests"] == 50
    assert bank.balance(account) == 0 and bank.held(account) == 0
    assert bank.charges(account) == [-hold] * 50
    bank.assert_consistent()


def rpm_round(urls, bank, upstream):
    """300 requests spread over 10 seconds on a key with rpm 60."""
    token = bank.key(rpm=60)
    started = time.monotonic()

    def send_at(i):
        time.sleep(max(0.0, started + i / 30 - time.monotonic()))
        return post(urls[i % len(urls)], chat(max_tokens=20), token)

    with ThreadPoolExecutor(32) as pool:
        responses = list(pool.map(send_at, range(300)))
    statuses = [r.status_code for r in responses]
    assert (statuses.count(200), statuses.count(429)) == (60, 240)
    assert upstream.stats()["requests"] == 60
    assert all(1 <= int(r.headers["Retry-After"]) <= 60 for r in responses if r.status_code == 429)


def test_200_concurrent_requests_never_spend_more_than_the_balance(gateways, bank, upstream):
    overspend_round([gateways[0].url], bank, upstream)


def test_rpm_admits_exactly_60_of_300_requests_spread_over_all_workers(gateways, bank, upstream):
    rpm_round([gateways[0].url], bank, upstream)


def test_two_gateway_processes_share_the_balance(gateways, bank, upstream):
    overspend_round([server.url for server in gateways], bank, upstream)


def test_two_gateway_processes_share_the_rpm(gateways, bank, upstream):
    rpm_round([server.url for server in gateways], bank, upstream)


def test_100_abandoned_streams_close_the_upstream_and_are_charged_what_was_relayed(
        gateways, bank, upstream):
    account = bank.account("100")
    token = bank.key(account)
    body = chat(stream=True, fake={"chunks": 300, "interval": 0.02})
    wanted = {f"abandon-{i}": random.randint(1, 40) for i in range(100)}

    def read_then_leave(request_id):
        with requests.post(gateways[0].url + "/v1/chat/completions", json=body, stream=True,
                           headers={**headers(token), "X-Request-ID": request_id},
                           timeout=30) as response:
            events = (line for line in response.iter_lines() if line.startswith(b"data:"))
            for _ in range(wanted[request_id] + 1):  # the role chunk, then content chunks
                next(events)

    with ThreadPoolExecutor(25) as pool:
        list(pool.map(read_then_leave, wanted))
    stats = upstream.wait_for(lambda s: s["open_streams"] == 0, timeout=10)
    assert (stats["closed_by_client"], stats["completed_streams"]) == (100, 0)
    assert no_hold_remains(account)
    rows = {row.request_id: row for row in RequestLog.select().where(RequestLog.account == account.id)}
    for request_id, received in wanted.items():
        row = rows[request_id]
        assert (row.state, row.status, row.usage_estimated) == ("settled", 499, True)
        assert received <= row.completion_tokens <= received + 25  # written before the leave was seen
        usage = billing.estimate_usage(len(json.dumps("你好", ensure_ascii=False).encode()), 1,
                                       row.completion_tokens)
        assert row.cost == billing.charge(Price(**PRICE), usage)
    bank.assert_consistent()


def test_the_sixth_concurrent_request_over_a_cap_of_5_is_429_and_no_slot_leaks(
        gateways, bank, upstream):
    token = bank.key(bank.account("100"), concurrency=5)
    url = gateways[0].url
    slow = chat(stream=True, fake={"chunks": 30, "interval": 0.05})

    def open_streams(count):
        return [post(url, slow, token, stream=True) for _ in range(count)]

    running = open_streams(5)
    assert [r.status_code for r in running] == [200] * 5
    sixth = post(url, chat(), token)
    assert sixth.status_code == 429 and sixth.headers["Retry-After"] == "1"
    for response in running:
        response.close()

    def open_then_abort(_):
        """Open a stream and leave at once; a slot frees when the server next writes and sees the
        client gone, so a 429 meanwhile is retried shortly, as a client would."""
        for _ in range(500):
            with post(url, chat(stream=True, fake={"chunks": 400, "interval": 0.005}), token,
                      stream=True) as response:
                if response.status_code != 429:
                    return response.status_code
            time.sleep(0.01)
        return 429

    with ThreadPoolExecutor(4) as pool:
        cycles = list(pool.map(open_then_abort, range(1000)))
    assert cycles == [200] * 1000
    assert no_hold_remains(models.Account.get(models.Account.name != "admin"))
    again = open_streams(5)
    assert [r.status_code for r in again] == [200] * 5
    for response in again:
        response.close()


def test_a_minute_of_write_heavy_load_on_sqlite_has_no_5xx(gateways, bank, upstream, database,
                                                          record_property):
    if not database.startswith("sqlite"):
        pytest.skip("the SQLite scenario; this run is on PostgreSQL")
    account = bank.account("1000")
    tokens = [bank.key(account) for _ in range(8)]
    deadline = time.monotonic() + 60

    def hammer(i):
        statuses = []
        while time.monotonic() < deadline:
            body = chat(max_tokens=20, stream=(i % 3 == 0), fake={"chunks": 3})
            response = post(gateways[i % 2].url, body, tokens[i % len(tokens)])
            statuses.append(response.status_code)
        return statuses

    with ThreadPoolExecutor(24) as pool:
        statuses = [s for batch in pool.map(hammer, range(24)) for s in batch]
    record_property("requests", len(statuses))
    assert len(statuses) > 1000
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {200}
    assert no_hold_remains(account)
    bank.assert_consistent()


def test_holds_of_a_killed_worker_are_released_by_the_sweep(app, database, upstream, bank,
                                                            tmp_path_factory):
    server = start(database, upstream, tmp_path_factory, UPSTREAM_DEADLINE="2",
                   UPSTREAM_READ_TIMEOUT="1", HOLD_GRACE_SECONDS="0.5", HOLD_SWEEP_INTERVAL="0.2")
    try:
        account = bank.account("10")
        token = bank.key(account)
        stream = post(server.url, chat(stream=True, fake={"chunks": 100, "interval": 0.1}), token,
                      stream=True)
        next(stream.iter_lines())
        assert bank.held(account) > 0
        for pid in worker_pids(server.process.pid):
            os.kill(pid, signal.SIGKILL)
        stream.close()
        time.sleep(4)  # older than the deadline, the read timeout and the grace together
        server.wait_until_ready()
        assert post(server.url, chat(), token).status_code == 200
        assert no_hold_remains(account)
        stuck = RequestLog.select().where(RequestLog.account == account.id).order_by(RequestLog.id).first()
        assert (stuck.state, stuck.cost) == ("released", 0)
        bank.assert_consistent()
    finally:
        server.stop()


def worker_pids(master):
    pids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == master:
            pids.append(int(stat.parent.name))
    return pids
