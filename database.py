"""How the gateway talks to its database: opening SQLite or PostgreSQL behind one proxy, waiting
for SQLite's write lock without freezing gevent, telling an unavailable database from a bug, and
fixed statements for the request path."""
import itertools
import logging
import time
from contextlib import contextmanager
from urllib.parse import urlparse

import gevent
from peewee import DatabaseProxy, InterfaceError, OperationalError
from playhouse.pool import MaxConnectionsExceeded, PooledPostgresqlDatabase, PooledSqliteDatabase
from psycopg2.extensions import TRANSACTION_STATUS_IDLE

import unyielding

db = DatabaseProxy()
log = logging.getLogger("qingcheng")
# A PostgreSQL server that does not complete a connection in this long is unavailable.
CONNECT_TIMEOUT_SECONDS = 3
# SQLite's words for a file that cannot be used now (any other OperationalError is a bug of ours).
SQLITE_UNAVAILABLE = ("locked", "busy", "unable to open", "disk i/o error", "readonly",
                      "disk is full")


def is_unavailable(error):
    """Whether `error` says the database cannot be used now (docs/storage.md), rather than that a
    statement was wrong: the caller gets 503 `database_unavailable`, not 500."""
    if isinstance(error, (InterfaceError, MaxConnectionsExceeded)):
        return True
    if not isinstance(error, OperationalError):
        return False
    return is_postgres() or any(words in str(error).lower() for words in SQLITE_UNAVAILABLE)


@contextmanager
def unless_unavailable(what):
    """For writes a request must not fail for (a channel's health): when the database is
    unavailable the block is given up, and the log says that `what` was skipped."""
    try:
        yield
    except Exception as error:
        if not is_unavailable(error):
            raise
        log.warning("%s skipped: the database is unavailable (%s)", what, reason(error))


def reason(error):
    """An unavailable database's error in one short line, for logs and /readyz."""
    lines = str(error).strip().splitlines()
    return f"{type(error).__name__}: {lines[0][:200] if lines else 'no detail'}"


# Seconds of the sleeps that block the whole worker while the SQLite write lock is another's.
LOCK_SPINS = (0.00005, 0.0001, 0.0002, 0.0004)


class CooperativeSqliteDatabase(PooledSqliteDatabase):
    """SQLite that waits for the write lock with Python sleeps, which gevent turns into greenlet
    switches. SQLite's own busy handler sleeps in C, freezing every greenlet of the worker, live
    streams included (docs/storage.md), so its busy_timeout is 0 and the waiting happens here.

    The lock is another worker's for one short transaction (a few hundred µs), so the first tries
    come after sleeps that block the worker, under a millisecond in all (`LOCK_SPINS`): a greenlet
    switch would put the request behind every other one ready to run, which under load is tens of
    milliseconds or more, for a lock free long before then. Only then does it wait cooperatively.

    Only a transaction's BEGIN IMMEDIATE, or a statement outside any transaction, can meet the
    lock; either has done nothing yet when refused, so trying again is safe."""

    def __init__(self, *args, lock_wait_seconds, **kwargs):
        super().__init__(*args, **kwargs)
        self.lock_wait_seconds = lock_wait_seconds

    def begin(self, lock_type=None):
        return self._when_unlocked(super().begin, lock_type)

    def execute_sql(self, sql, params=None):
        if self.in_transaction():
            return super().execute_sql(sql, params)
        return self._when_unlocked(super().execute_sql, sql, params)

    def _when_unlocked(self, call, *args):
        deadline = time.monotonic() + self.lock_wait_seconds
        for attempt in itertools.count():
            try:
                return call(*args)
            except OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            if attempt < len(LOCK_SPINS):
                unyielding.sleep(LOCK_SPINS[attempt])
            else:
                time.sleep(min(0.0002 * 2 ** (attempt - len(LOCK_SPINS)), 0.005))


class ReconnectingPostgresqlDatabase(PooledPostgresqlDatabase):
    """PostgreSQL that gives up a connection attempt after CONNECT_TIMEOUT_SECONDS, and whose pool
    drops, at check-out, a connection the server (or the network between) hung up on while it sat
    idle: after an outage no request meets a dead connection. An idle connection has nothing to
    read unless the server closed it or said why it is about to; asking the socket costs no round
    trip."""

    def _connect(self):
        # libpq's connect_timeout binds a blocking connect (the command line); gevent's workers
        # connect asynchronously, where only a gevent timeout does.
        with gevent.Timeout(CONNECT_TIMEOUT_SECONDS, OperationalError(
                f"no connection to PostgreSQL within {CONNECT_TIMEOUT_SECONDS}s")):
            return super()._connect()

    def _is_closed(self, conn):
        return (conn.closed or conn.get_transaction_status() != TRANSACTION_STATUS_IDLE
                or unyielding.readable_now(conn.fileno()))


def open_database(url, pool_size=8, lock_wait_seconds=10):
    """A pooled peewee database for `sqlite:///path` or `postgresql://user@host:port/db`.

    A greenlet that finds the pool in use waits for a connection (up to 10 s): PostgreSQL allows
    few connections (100 by default) for all workers of all machines together."""
    parsed = urlparse(url)
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///"):] or ":memory:"
        return CooperativeSqliteDatabase(
            path, max_connections=64, stale_timeout=300, timeout=10, lock_type="IMMEDIATE",
            lock_wait_seconds=lock_wait_seconds,
            pragmas={"journal_mode": "wal", "synchronous": "normal", "foreign_keys": 1,
                     "cache_size": -16000, "busy_timeout": 0})
    if parsed.scheme in ("postgres", "postgresql"):
        return ReconnectingPostgresqlDatabase(
            parsed.path.lstrip("/"), user=parsed.username, password=parsed.password,
            host=parsed.hostname, port=parsed.port or 5432, max_connections=pool_size, stale_timeout=300,
            timeout=10, connect_timeout=CONNECT_TIMEOUT_SECONDS)
    raise ValueError(f"DATABASE_URL must start with sqlite:/// or postgresql://, not {parsed.scheme}:")


def is_postgres():
    return isinstance(db.obj, PooledPostgresqlDatabase)


class Statement:
    """A fixed SQL statement, written with `?` and run in the driver's own parameter style. The
    request path runs these instead of building the same peewee queries on every request."""

    def __init__(self, sql, columns=()):
        self.sql, self.columns = sql, columns

    @classmethod
    def select(cls, table, columns, where):
        return cls(f"SELECT {', '.join(columns)} FROM {table} WHERE {where}", columns)

    def run(self, *params):
        return db.execute_sql(self.sql.replace("?", db.param) if db.param != "?" else self.sql, params)
