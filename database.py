"""How the gateway talks to its database: opening SQLite or PostgreSQL behind one proxy, waiting
for SQLite's write lock without freezing gevent, and fixed statements for the request path."""
import time
from urllib.parse import urlparse

from peewee import DatabaseProxy, OperationalError
from playhouse.pool import PooledPostgresqlDatabase, PooledSqliteDatabase

db = DatabaseProxy()


class CooperativeSqliteDatabase(PooledSqliteDatabase):
    """SQLite that waits for the write lock with Python sleeps, which gevent turns into greenlet
    switches. SQLite's own busy handler sleeps in C, freezing every greenlet of the worker, live
    streams included (docs/storage.md), so its busy_timeout is 0 and the waiting happens here.

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
        pause = 0.0002
        while True:
            try:
                return call(*args)
            except OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
            time.sleep(pause)
            pause = min(pause * 2, 0.005)


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
        return PooledPostgresqlDatabase(
            parsed.path.lstrip("/"), user=parsed.username, password=parsed.password,
            host=parsed.hostname, port=parsed.port or 5432, max_connections=pool_size, stale_timeout=300,
            timeout=10)
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
