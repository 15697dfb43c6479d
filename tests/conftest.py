"""Fixtures: a real fake-upstream process, the app on a fresh database, and real gunicorn servers.

The database is a fresh SQLite file per test, or PostgreSQL when TEST_DATABASE_URL names one
(its tables are dropped and made anew for every test). Shared helpers are in helpers.py.
"""
import os

import pytest

from database import db
from helpers import (CLAUDE, CLAUDE_PRICE, UPSTREAM_KEY, Bank, FakeUpstream, GatewayServer, fake_anthropic,
                     new_app)
from pages import PASSWORD, chromium
from models import Price
from providers import PROVIDERS
from providers.base import Upstream


@pytest.fixture(scope="session")
def upstream_server():
    with FakeUpstream() as server:
        yield server


@pytest.fixture(scope="session")
def anthropic_server():
    with fake_anthropic() as server:
        yield server


@pytest.fixture
def upstream(upstream_server):
    upstream_server.reset()
    return upstream_server


@pytest.fixture(scope="module")
def database(tmp_path_factory):
    """One database per test module (so a module's gunicorn can share it), emptied for each test."""
    return os.environ.get("TEST_DATABASE_URL") or \
        f"sqlite:///{tmp_path_factory.mktemp('db') / 'gateway.db'}"


@pytest.fixture
def app(database, upstream):
    application = new_app(database, upstream.url)
    db.connect(reuse_if_open=True)
    yield application
    db.close()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def bank(app):
    return Bank()


@pytest.fixture(scope="module")
def browser():
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def gunicorn_server(database, upstream_server, anthropic_server, tmp_path_factory):
    running = GatewayServer(database, upstream_server.url,
                            log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log",
                            ANTHROPIC_BASE_URL=anthropic_server.url, ANTHROPIC_API_KEY=UPSTREAM_KEY)
    yield running
    running.stop()


@pytest.fixture
def server(app, gunicorn_server):
    """gunicorn (one per test module) on the same database as `app`: set accounts up in-process."""
    return gunicorn_server


@pytest.fixture
def claude(app, anthropic_server):
    """The fake Anthropic, reset, as the app's `anthropic` upstream, with Claude priced."""
    anthropic_server.reset()
    app.config["UPSTREAMS"]["anthropic"] = Upstream(PROVIDERS["anthropic"], anthropic_server.url,
                                                    UPSTREAM_KEY)
    Price.set("anthropic", CLAUDE, **CLAUDE_PRICE)
    return anthropic_server


@pytest.fixture
def claude_server(claude, gunicorn_server):
    """gunicorn (one per test module), the fake Anthropic reset and Claude priced."""
    return gunicorn_server


@pytest.fixture
def user(bank):
    return bank.account("10", name="alice", password=PASSWORD)


@pytest.fixture
def admin(bank):
    return bank.account("0", name="boss", is_admin=True, password=PASSWORD)


@pytest.fixture
def cli(app):
    """The operator's command line, through Flask's CLI runner."""
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=list(args), **kwargs)
