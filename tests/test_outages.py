"""The database or Redis going away and coming back (README "Operations"): /healthz and /readyz,
503 `database_unavailable` on every path, settlements that wait for the database, recovery.

The outages are played by a TCP proxy (tcp_proxy.py) in front of the shared servers, which are
never stopped."""
import json
import os
import sqlite3
import subprocess
import threading
import time
from urllib.parse import urlparse

import pytest
import redis
import requests
from peewee import OperationalError

import money
from database import db, is_unavailable, open_database
from helpers import (ROOT, TEST_ENCRYPTION_KEY, GatewayServer, chat, expected_cost, free_port, headers,
                     sse_data, wait_until)
from pages import PASSWORD
from models import ApiKey, RequestLog
from providers.base import Usage
from tcp_proxy import TcpProxy
from test_limits import redis_or_skip

CHARGE = expected_cost(completion=13)  # the fake upstream's usage, for every request here
A_KEY = "sk-qc-" + "x" * 40  # never looked up: the database is away
UNAVAILABLE = {"error": {"message": "The gateway's database is unavailable; try again shortly.",
                         "type": "server_error", "param": None, "code": "database_unavailable"}}


def through(proxy, url):
    """`url` with its port replaced by the proxy's."""
    parsed = urlparse(url)
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.port}", f":{proxy.port}")).geturl()


def proxy_for(url, default_port):
    parsed = urlparse(url)
    return TcpProxy(parsed.hostname, parsed.port or default_port)


# --- in-process: the database unreachable, whatever the path -------------------------------------

@pytest.fixture
def unreachable(app):
    """The app's database swapped for a PostgreSQL nobody listens for."""
    db.initialize(open_database(f"postgresql://postgres@127.0.0.1:{free_port()}/gone"))
    return app.test_client()


def test_healthz_answers_while_the_database_is_unreachable(unreachable):
    response = unreachable.get("/healthz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ok"})


def test_readyz_is_503_with_the_database_s_reason(unreachable):
    response = unreachable.get("/readyz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable"
    assert body["database"].startswith("OperationalError: ") and "refused" in body["database"]


@pytest.mark.parametrize("method,path", [
    ("POST", "/v1/chat/completions"), ("GET", "/v1/models"), ("GET", "/v1/balance"),
    ("POST", "/v1/embeddings"), ("POST", "/v1/responses"),
    ("GET", "/"), ("GET", "/keys"), ("GET", "/admin"), ("POST", "/signin"), ("GET", "/nowhere")])
def test_every_route_and_page_answers_json_503_database_unavailable(unreachable, method, path):
    response = unreachable.open(path, method=method, json=chat(), headers=headers(A_KEY))
    assert (response.status_code, response.get_json()) == (503, UNAVAILABLE)
    assert response.headers["Retry-After"] == "5"


def test_anthropic_s_messages_answer_503_in_anthropic_s_envelope(unreachable):
    response = unreachable.post("/v1/messages", json=chat(max_tokens=10), headers=headers(A_KEY))
    assert response.status_code == 503
    assert response.get_json() == {"type": "error", "error": {
        "type": "api_error", "message": UNAVAILABLE["error"]["message"]}}
    assert response.headers["Retry-After"] == "5"


def test_readyz_is_ready_when_the_database_answers(client):
    response = client.get("/readyz")
    assert (response.status_code, response.get_json()) == (200, {"status": "ready", "database": "ok"})


# --- SQLite: a file locked past the wait ----------------------------------------------------------

@pytest.fixture
def locked_sqlite(app, database):
    """A way to lock the app's SQLite file from another connection, as another process would."""
    if not database.startswith("sqlite"):
        pytest.skip("SQLite's lock: this run's database is PostgreSQL")
    db.obj.lock_wait_seconds = 0.2
    other = sqlite3.connect(database[len("sqlite:///"):], isolation_level=None)
    yield other
    other.close()


def test_a_locked_sqlite_file_is_503_database_unavailable_and_holds_nothing(
        locked_sqlite, client, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    locked_sqlite.execute("BEGIN EXCLUSIVE")
    refused = client.post("/v1/chat/completions", json=chat(), headers=headers(token))
    locked_sqlite.execute("ROLLBACK")
    assert (refused.status_code, refused.get_json()) == (503, UNAVAILABLE)
    assert upstream.stats()["requests"] == 0
    assert bank.held(account) == 0 and bank.requests(account) == []
    assert client.post("/v1/chat/completions", json=chat(), headers=headers(token)).status_code == 200
    assert bank.charges(account) == [-CHARGE]


def test_a_wrong_statement_on_sqlite_is_a_bug_not_an_outage(locked_sqlite):
    with pytest.raises(OperationalError) as raised:
        db.execute_sql("SELECT * FROM no_such_table")
    assert not is_unavailable(raised.value)


def test_a_settlement_that_meets_a_locked_file_is_retried_until_it_settles(locked_sqlite, bank):
    account = bank.account("10")
    key = ApiKey.lookup(bank.key(account))
    row = money.hold(key, 5000, "req_waiting", "deepseek", "deepseek-flash", False)
    db.close()
    locked_sqlite.execute("BEGIN EXCLUSIVE")
    money.settle_when_possible(row, (Usage(prompt=12, cached=4, completion=13), CHARGE, 200, False),
                               (None, 1, None), settle_by=row.created + 60)
    assert RequestLog.get_by_id(row.id).state == "held"  # nothing lost, nothing charged yet
    locked_sqlite.execute("ROLLBACK")
    assert wait_until(lambda: RequestLog.get_by_id(row.id).state == "settled")
    assert bank.charges(account) == [-CHARGE] and bank.held(account) == 0
    bank.assert_consistent()


# --- PostgreSQL stopped under load, under gunicorn -------------------------------------------------

@pytest.fixture
def postgres_behind_proxy(database):
    if not database.startswith("postgres"):
        pytest.skip("a PostgreSQL outage: runs when TEST_DATABASE_URL names PostgreSQL")
    with proxy_for(database, 5432) as proxy:
        yield proxy


def test_connections_pooled_through_an_outage_are_dropped_before_use(postgres_behind_proxy, database):
    pooled = open_database(through(postgres_behind_proxy, database))
    with pooled.connection_context():
        pooled.execute_sql("SELECT 1")  # a connection, back in the pool
    postgres_behind_proxy.down()
    with pytest.raises(OperationalError), pooled.connection_context():
        pooled.execute_sql("SELECT 1")
    postgres_behind_proxy.up()
    with pooled.connection_context():
        assert pooled.execute_sql("SELECT 1").fetchone() == (1,)
    pooled.close_all()


@pytest.fixture
def outage_server(app, database, postgres_behind_proxy, upstream, tmp_path):
    """gunicorn on the database through the proxy; holds older than 13 s are swept every second."""
    server = GatewayServer(through(postgres_behind_proxy, database), upstream.url,
                           log_path=tmp_path / "gunicorn.log", UPSTREAM_DEADLINE="8",
                           HOLD_GRACE_SECONDS="2", HOLD_SWEEP_INTERVAL="1")
    yield server
    server.stop()


class Load:
    """Callers hitting the API and the pages from threads until stopped; every answer kept as
    (status, content type, JSON body or None, for a chat whether it was one)."""

    PATHS = (("POST", "/v1/chat/completions"), ("GET", "/v1/balance"), ("GET", "/"),
             ("GET", "/keys"), ("GET", "/v1/models"))

    def __init__(self, server, token, callers=6):
        self.server, self.token = server, token
        self.answers, self.stop = [], threading.Event()
        self.threads = [threading.Thread(target=self.call, args=(n,)) for n in range(callers)]
        for thread in self.threads:
            thread.start()

    def call(self, n):
        session = requests.Session()
        while not self.stop.is_set():
            method, path = self.PATHS[n % len(self.PATHS)]
            response = session.request(method, self.server.url + path, timeout=30,
                                       json=chat(stream=n % 2 == 0), headers=headers(self.token))
            is_json = response.headers["Content-Type"].startswith("application/json")
            self.answers.append((response.status_code, response.headers["Content-Type"],
                                 response.json() if is_json else None, path.endswith("completions")))
            time.sleep(0.02)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(60)
        return self.answers


def ledger_check(database):
    """`flask --app gateway ledger check`, as the operator runs it."""
    return subprocess.run(["flask", "--app", "gateway", "ledger", "check"], cwd=ROOT, timeout=60,
                          capture_output=True, env={**os.environ, "DATABASE_URL": database,
                                                    "ENCRYPTION_KEY": TEST_ENCRYPTION_KEY})


def served_chats(answers):
    return sum(1 for status, _, _, is_chat in answers if is_chat and status == 200)


def call_in_background(server, token, stream):
    """A chat request in a thread; its response (the body read whole) once joined."""
    result = {}

    def call():
        response = requests.post(server.url + "/v1/chat/completions", json=chat(stream=stream),
                                 headers=headers(token), timeout=30)
        result["status"], result["text"] = response.status_code, response.text
    thread = threading.Thread(target=call)
    thread.start()
    return thread, result


def test_a_postgresql_outage_under_load_is_503_then_recovers_with_every_charge_kept(
        outage_server, postgres_behind_proxy, database, bank, upstream):
    account = bank.account("100", password=PASSWORD)
    token = bank.key(account)
    db.close()
    server, proxy = outage_server, postgres_behind_proxy
    warm = [requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token),
                          timeout=30).status_code for _ in range(8)]  # pooled connections to go stale
    assert warm == [200] * 8

    upstream.behave(gate=True)  # requests admitted before the outage, answered during it
    in_flight = [(stream, *call_in_background(server, token, stream))
                 for stream in (False, True, False, True)]
    assert upstream.wait_for(lambda stats: stats["requests"] >= 8 + 4)["requests"] == 12
    proxy.down()
    load = Load(server, token)
    ready = requests.get(server.url + "/readyz", timeout=10)
    alive = requests.get(server.url + "/healthz", timeout=10)
    upstream.behave()  # the upstream answers while the database is away
    for _, thread, _ in in_flight:
        thread.join(30)
    time.sleep(4)  # the load meets the outage; the settlements wait
    proxy.up()
    recovered = wait_until(lambda: requests.get(server.url + "/readyz", timeout=10).status_code == 200,
                           timeout=20)
    time.sleep(1)
    answers = load.finish()

    assert ready.status_code == 503 and ready.json()["status"] == "unavailable"
    assert "database" in ready.json() and ready.json()["database"] != "ok"
    assert (alive.status_code, alive.json()) == (200, {"status": "ok"})
    for stream, _, result in in_flight:
        assert result["status"] == 200
        if stream:
            assert sse_data(result["text"])[-1] == "[DONE]"
        else:
            assert json.loads(result["text"])["choices"][0]["message"]["content"] == "你好，世界！Hello 🌍"
    for status, content_type, body, _ in answers:
        assert status == 200 or (status, body) == (503, UNAVAILABLE), (status, content_type, body)
    assert any(status == 503 for status, *_ in answers)
    assert recovered
    after = [requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token),
                           timeout=30).status_code for _ in range(4)]
    assert after == [200] * 4

    # Every hold settled or released (a stray hold, committed as the connection was cut, is swept).
    def no_hold_left():
        requests.get(server.url + "/v1/balance", headers=headers(token), timeout=10)  # runs a sweep
        return RequestLog.select().where(RequestLog.state == "held").count() == 0
    assert wait_until(no_hold_left, timeout=40)
    db.close()
    charges = bank.charges(account)
    assert charges == [-CHARGE] * (8 + 4 + served_chats(answers) + 4)
    assert bank.balance(account) == money.parse_yuan("100") + sum(charges)
    assert bank.held(account) == 0
    assert ledger_check(database).returncode == 0
    assert "waits for the database" in server.log_text()
    assert "Traceback" not in server.log_text()


# --- Redis stopped: the database enforces the limits ----------------------------------------------

@pytest.fixture
def redis_behind_proxy():
    url = redis_or_skip()
    with proxy_for(url, 6379) as proxy:
        yield proxy, through(proxy, url)


def test_a_redis_outage_keeps_serving_with_exact_limits_and_readyz_says_degraded(
        app, database, redis_behind_proxy, upstream, bank, tmp_path):
    proxy, redis_url = redis_behind_proxy
    account = bank.account("10")
    token = bank.key(account, rpm=4)
    db.close()
    server = GatewayServer(database, upstream.url, workers=1, log_path=tmp_path / "gunicorn.log",
                           REDIS_URL=redis_url)
    try:
        def send():
            return requests.post(server.url + "/v1/chat/completions", json=chat(),
                                 headers=headers(token), timeout=30)

        def readyz():
            return requests.get(server.url + "/readyz", timeout=10).json()

        before = [send().status_code for _ in range(2)]
        assert readyz() == {"status": "ready", "database": "ok", "redis": "ok"}
        proxy.down()
        during = [send() for _ in range(3)]
        degraded = readyz()
        proxy.up()
        recovered = wait_until(lambda: readyz()["status"] == "ready", timeout=10)
        # Redis is asked again 5 s after it failed; it never saw the outage's requests, so it
        # admits one more (docs/limits.md), and counts it.
        readmitted = wait_until(lambda: send().status_code == 200, timeout=15)
    finally:
        server.stop()
    assert before == [200, 200]
    assert [r.status_code for r in during] == [200, 200, 429]  # the request log counts all four
    assert during[0].headers["x-ratelimit-remaining-requests"] == "1"
    assert degraded["status"] == "degraded" and degraded["database"] == "ok"
    assert degraded["redis"] != "ok" and "Error" in degraded["redis"]
    assert recovered and readmitted
    assert redis.Redis.from_url(redis_url).zcard(f"qc:rpm:{ApiKey.lookup(token).id}") == 3
    assert "Redis unreachable" in server.log_text()
    assert bank.charges(account) == [-CHARGE] * 5
    bank.assert_consistent()
