"""What every API request reads and operators rarely change (keys, prices, aliases, channels),
kept by each worker until any of it changes (docs/storage.md, "Kept rows").

Exact, not a time to live: triggers on those tables (`install_triggers`) add one to
`configversion.version` in the transaction that changes them, whoever writes (a worker on any
machine, the command line, SQL by hand), and each API request reads that number once, as it
authenticates, before it uses a kept row. A key revoked is refused by the next request on every
worker; a price set is the next request's price.
"""
import secrets

from flask import g, has_request_context

from database import Statement, db, is_postgres

VERSION = Statement("SELECT version FROM configversion WHERE id = 1")
LIMIT = 4096  # rows kept at most: callers choose what is looked up (tokens, model names)
# The tables counted, and the columns whose change counts (None: any): of a key, those that
# models.LOOKUP_KEY reads, not `held`, `spent` and `last_used`, which every request changes.
WATCHED = {"apikey": ("account_id", "digest", "prefix", "label", "rpm", "tpm", "concurrency",
                      "expires", "revoked", "created", "models", "ips", "budget"),
           "price": None, "modelalias": None, "channel": None}
BUMP = "UPDATE configversion SET version = version + 1 WHERE id = 1"

_kept = {}  # (statement, params) -> (version, rows)
_latest = None


def refresh():
    """At an API request's start: the version its reads are kept under; what an older version
    kept is forgotten. No row (a database emptied by hand): nothing is kept in this request."""
    global _latest
    row = VERSION.run().fetchone()
    g.config_version = version = row[0] if row else None
    if version != _latest:
        _kept.clear()
        _latest = version


def rows(statement, *params):
    """`statement`'s rows: kept ones when this request read the version they were kept under."""
    version = g.get("config_version") if has_request_context() else None
    if version is None:
        return statement.run(*params).fetchall()
    kept = _kept.get((statement, params))
    if kept is not None and kept[0] == version:
        return kept[1]
    result = statement.run(*params).fetchall()
    if version == _latest:  # no newer request has seen a change meanwhile
        if len(_kept) >= LIMIT:
            _kept.clear()
        _kept[(statement, params)] = (version, result)
    return result


def forget():
    """This request changed a watched table: its further reads go to the database."""
    if has_request_context():
        g.config_version = None


def first_version():
    """A random start, so a worker that outlives its database (a restored backup, a test's fresh
    one) cannot mistake another database's count for the one it kept rows under."""
    return secrets.randbits(48)


def install_triggers():
    """The triggers that count changes of the watched tables, where missing."""
    present = present_triggers()
    missing = {name: sql for name, sql in trigger_statements().items() if name not in present}
    if missing and is_postgres():
        db.execute_sql("CREATE OR REPLACE FUNCTION configversion_bump() RETURNS trigger "
                       f"LANGUAGE plpgsql AS $$ BEGIN {BUMP}; RETURN NULL; END $$")
    for sql in missing.values():
        db.execute_sql(sql)


def present_triggers():
    """The names of the database's triggers."""
    return {name for name, in db.execute_sql(
        "SELECT tgname FROM pg_trigger WHERE NOT tgisinternal" if is_postgres()
        else "SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall()}


def trigger_statements():
    """{trigger name: its CREATE statement}, one trigger per table and kind of change."""
    action = ("FOR EACH STATEMENT EXECUTE FUNCTION configversion_bump()" if is_postgres()
              else f"BEGIN {BUMP}; END")
    statements = {}
    for table, columns in WATCHED.items():
        update = f"UPDATE OF {', '.join(columns)}" if columns else "UPDATE"
        for kind, event in (("inserted", "INSERT"), ("updated", update), ("deleted", "DELETE")):
            name = f"{table}_{kind}_counted"
            statements[name] = f"CREATE TRIGGER {name} AFTER {event} ON {table} {action}"
    return statements
