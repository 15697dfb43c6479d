"""What the tests share: the fake upstream process, real gunicorn servers, a bank of accounts and
keys read straight from the database, request builders and SSE readers (the pages': pages.py)."""
import dataclasses
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import channels  # noqa: E402
import config_cache  # noqa: E402
import money  # noqa: E402
import models  # noqa: E402
from database import db, is_postgres, open_database  # noqa: E402
from models import Account, ApiKey, LedgerEntry, RequestLog  # noqa: E402
from providers import PROVIDERS  # noqa: E402
from providers.base import Upstream, Usage  # noqa: E402
from providers.openai_style import OpenAIStyle  # noqa: E402
from providers.relay import Timeouts  # noqa: E402

UPSTREAM_KEY = "sk-upstream-operator-secret"
# ENCRYPTION_KEY for PostgreSQL runs (SQLite runs use the key file beside the database).
TEST_ENCRYPTION_KEY = "WWN1HkI_k8gzb7b5ZsZbCxqQ8sOb0RzqPy5KAb3Hdls="
PRICE = dict(input=2_000_000, cached_input=500_000, output=8_000_000, max_output=1000)  # 元/M: 2, 0.5, 8
MODEL = "deepseek-flash"


def required(service):
    """Skip when a service is absent, unless CI demands it (REQUIRE_SERVICES=1)."""
    def absent(reason):
        if os.environ.get("REQUIRE_SERVICES") == "1":
            pytest.fail(f"{service} is required here (REQUIRE_SERVICES=1): {reason}")
        pytest.skip(f"{service} not available: {reason}")
    return absent


class FakeUpstream:
    """A fake upstream process, `script` in tests/, that accepts the API key `key`: `url` is its
    base URL in the sense of its vendor's SDK, ending in `path`."""

    def __init__(self, script="fake_upstream.py", path="/v1", key=UPSTREAM_KEY):
        self.key = key
        self.process = subprocess.Popen([sys.executable, str(ROOT / "tests" / script), key],
                                        stdout=subprocess.PIPE, text=True)
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}{path}"

    def stats(self):
        return requests.get(f"http://127.0.0.1:{self.port}/_stats", timeout=5).json()

    def reset(self):
        requests.post(f"http://127.0.0.1:{self.port}/_reset", json={}, timeout=5)

    def behave(self, **fake):
        """Answer every request as its `fake` would say, unless the request's own says otherwise."""
        requests.post(f"http://127.0.0.1:{self.port}/_behave", json=fake, timeout=5)

    def wait_for(self, condition, timeout=5.0):
        """The stats once `condition(stats)` holds, or the last stats after `timeout`."""
        deadline = time.monotonic() + timeout
        while True:
            stats = self.stats()
            if condition(stats) or time.monotonic() > deadline:
                return stats
            time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait(5)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


@contextmanager
def fake_upstreams(count):
    """`count` fake upstream processes, each accepting a key of its own."""
    started = [FakeUpstream(key=f"sk-fake-{n}-0123456789") for n in ("alpha", "bravo", "charlie", "delta")[:count]]
    try:
        yield started
    finally:
        for fake in started:
            fake.stop()


def fresh(app, fakes):
    """The fakes answering normally, and no channel but those a test adds: no provider's key is in
    the app's environment."""
    app.config["UPSTREAMS"] = {name: dataclasses.replace(upstream, api_key="")
                               for name, upstream in app.config["UPSTREAMS"].items()}
    models.Channel.delete().execute()
    for fake in fakes:
        fake.reset()
    return fakes


def drop_change_triggers():
    """As a database made before config_cache's triggers (they name their columns, which a
    test of an upgrade drops)."""
    for name in config_cache.trigger_statements():
        table = name.rsplit("_", 2)[0]
        db.execute_sql(f"DROP TRIGGER IF EXISTS {name}" + (f" ON {table}" if is_postgres() else ""))


def empty_database(url):
    """Point the models at `url`, with its tables made and empty."""
    db.initialize(open_database(url))
    with db.connection_context():
        models.create_tables()
        for table in reversed(models.TABLES):
            table.delete().execute()


OPENAI_STYLE = [name for name, p in PROVIDERS.items() if isinstance(p, OpenAIStyle)]


def openai_style_upstreams(upstream_url):
    """Every OpenAI-style provider aimed at the fake upstream, each at the path of its own
    default base URL (`/compatible-mode/v1`, `/api/paas/v4`, …)."""
    root = "{0.scheme}://{0.netloc}".format(urlparse(upstream_url))
    return {name: Upstream(PROVIDERS[name], root + urlparse(PROVIDERS[name].default_base_url).path,
                           UPSTREAM_KEY) for name in OPENAI_STYLE}


def upstream_environment(upstream_url):
    """`<NAME>_BASE_URL` and `<NAME>_API_KEY` of every OpenAI-style provider, at the fake."""
    return {f"{u.provider.env_prefix}_{part}": value
            for u in openai_style_upstreams(upstream_url).values()
            for part, value in (("BASE_URL", u.base_url), ("API_KEY", u.api_key))}


def new_app(database, upstream_url, **config):
    """The gateway on an emptied `database`, its one model priced, with `config` over the tests'."""
    import gateway
    empty_database(database)
    app = gateway.create_app(app_config(database, upstream_url, **config))
    models.Price.create(provider="deepseek", model=MODEL, **PRICE)
    return app


def app_config(database, upstream_url, **overrides):
    return {"DATABASE_URL": database, "TESTING": True, "REDIS_URL": None,
            "UPSTREAMS": openai_style_upstreams(upstream_url),
            "TIMEOUTS": Timeouts(connect=2, read=2, total=5, keepalive=0.3),
            "ENCRYPTION_KEY": encryption_key(database), **overrides}


def encryption_key(database):
    return None if database.startswith("sqlite") else TEST_ENCRYPTION_KEY


def add_channel(app, name, upstream, provider="deepseek", **fields):
    """A channel to a fake upstream, with its key; `fields` as the command line takes them."""
    return channels.add(app.extensions["keyring"], provider, name=name, base_url=upstream.url,
                        api_key=upstream.key, **{field: str(value) for field, value in fields.items()})


class Bank:
    """Accounts, keys and books, read straight from the database."""

    def account(self, balance="10", name=None, **fields):
        name = name or f"user{Account.select().count()}"
        return money.create_account(name, balance=money.parse_yuan(balance), **fields)

    def key(self, account=None, **limits):
        _, token = ApiKey.issue(account or self.account(), **limits)
        return token

    def balance(self, account):
        return Account.get_by_id(account.id).balance

    def held(self, account):
        return Account.get_by_id(account.id).held

    def charges(self, account):
        return [e.amount for e in LedgerEntry.select().where(
            (LedgerEntry.account == account.id) & (LedgerEntry.kind == "charge")).order_by(LedgerEntry.id)]

    def requests(self, account):
        return list(RequestLog.select().where(RequestLog.account == account.id).order_by(RequestLog.id))

    def assert_consistent(self):
        assert money.ledger_mismatches() == []


def chat(content="你好", **fields):
    return {"model": MODEL, "messages": [{"role": "user", "content": content}], **fields}


def headers(token, provider="deepseek"):
    sent = {"X-API-Key": token}
    if provider:
        sent["X-AI-Provider"] = provider
    return sent


def post(client, body, token, provider="deepseek", **kwargs):
    """POST a chat completion and close the response, as a WSGI server would (that is when a
    stream settles)."""
    response = client.post("/v1/chat/completions", json=body, headers=headers(token, provider),
                           **kwargs)
    response.get_data()
    response.close()
    return response


def expected_cost(prompt=12, cached=4, completion=0, price=PRICE):
    """The exact charge in micro-yuan, as docs/money.md defines it (ceil of the sum)."""
    total = ((prompt - cached) * price["input"] + cached * price["cached_input"]
             + completion * price["output"])
    return -(-total // 1_000_000)


# --- Anthropic ----------------------------------------------------------------------------------

CLAUDE = "claude-sonnet-5-5"
CLAUDE_PRICE = dict(input=21_000_000, cached_input=2_100_000, output=105_000_000, max_output=4096)


def fake_anthropic():
    """The fake Anthropic Messages API (tests/fake_anthropic.py); its base URL ends before /v1."""
    return FakeUpstream("fake_anthropic.py", path="")


def claude_messages(content="你好", fake=None):
    """A conversation for Claude, in chat's shape and in Anthropic's alike; `fake` steers the fake
    Anthropic through the last message's text."""
    messages = [{"role": "user", "content": content}]
    if fake is not None:
        messages.append({"role": "user", "content": json.dumps({"fake": fake})})
    return messages


def claude_chat(content="你好", fake=None, **fields):
    """A chat body for Claude (`claude_messages`)."""
    return {"model": CLAUDE, "messages": claude_messages(content, fake), **fields}


def anthropic_cost(input_tokens=12, cache_read=0, cache_write=0, output=0, price=CLAUDE_PRICE):
    """The exact charge for Anthropic's usage counts (`input_tokens` excludes the cache): reads at
    the cached price, writes at the cache-write price (the miss price when the price has none)."""
    total = (input_tokens * price["input"] + cache_read * price["cached_input"]
             + cache_write * price.get("cache_write", price["input"]) + output * price["output"])
    return -(-total // 1_000_000)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class GatewayServer:
    """The gateway under real `gunicorn -c gunicorn.conf.py` with gevent workers."""

    def __init__(self, database, upstream_url, workers=2, log_path=None, gunicorn_args="", **env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        # A SECRET_KEY of its own: tests empty the database (the stored one too) while it runs.
        environment = {**os.environ, "SECRET_KEY": "test-secret-key-for-web-sessions",
                       "DATABASE_URL": database, **upstream_environment(upstream_url),
                       "UPSTREAM_READ_TIMEOUT": "3", "ENCRYPTION_KEY": encryption_key(database) or "",
                       "UPSTREAM_DEADLINE": "20", "SSE_KEEPALIVE_SECONDS": "0.5",
                       "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{self.port} --workers {workers} "
                                            f"--access-logfile - {gunicorn_args}",
                       **env}
        self.log_path = log_path
        self.log = open(log_path, "wb") if log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(["gunicorn", "-c", "gunicorn.conf.py"], cwd=ROOT,
                                        env=environment, stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_until_ready()

    def wait_until_ready(self, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"gunicorn exited: {self.log_text()}")
            try:
                if requests.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start: {self.log_text()}")

    def log_text(self):
        return Path(self.log_path).read_text(errors="replace") if self.log_path else ""

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        if self.log_path:
            self.log.close()


def wait_until(condition, timeout=5.0):
    """`condition()` once it is true, or its last value after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()) and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def worker_pids(log_text):
    """The pids of the workers gunicorn booted, from its log."""
    return set(re.findall(r"Booting worker with pid: (\d+)", log_text))


def wait_until_settled(account, timeout=5.0):
    """The account's one request row, once settled (a stream settles after its client left)."""
    deadline = time.monotonic() + timeout
    while True:
        [row] = RequestLog.select().where(RequestLog.account == account.id)
        if row.state == "settled" or time.monotonic() > deadline:
            return row
        time.sleep(0.05)


def event_arrivals(base_url, token, fake):
    """When each `data:` line of a stream (the fake upstream's, as `fake` says) reached the client,
    in seconds from the start of the answer."""
    with requests.post(base_url + "/v1/chat/completions", json=chat(stream=True, fake=fake),
                       headers=headers(token), stream=True, timeout=10) as response:
        started = time.monotonic()
        return [time.monotonic() - started for line in response.iter_lines() if line.startswith(b"data:")]


def sse_data(text):
    """The `data:` payloads of an SSE body, in order (comments left out)."""
    return [line[len("data: "):] for line in text.split("\n") if line.startswith("data: ")]


def sse_json(text):
    return [json.loads(data) for data in sse_data(text) if data != "[DONE]"]



def served(key, cost, created=None, completion=13, cache_write=0):
    """A settled request of `key` as the gateway would log it."""
    row = money.hold(key, cost, f"req_{time.monotonic_ns()}", "deepseek", MODEL, True)
    money.settle(row, Usage(prompt=12, cached=4, cache_write=cache_write, completion=completion),
                 cost, 200)
    if created is not None:
        RequestLog.update(created=created, finished=created + 1.5).where(RequestLog.id == row.id).execute()
    return row
