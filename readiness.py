"""The probes an orchestrator asks (README "Operations"): `/healthz`, is the process alive, which
touches nothing else; `/readyz`, can it serve requests: the database answers, and Redis when
REDIS_URL names it. Neither runs the request hooks that use the database (gateway.py)."""
from flask import Blueprint, current_app, jsonify

import database
from database import Statement, db

probes = Blueprint("probes", __name__)
ENDPOINTS = {"probes.healthz", "probes.readyz"}
# A real table, not a bare SELECT 1: SQLite answers that without opening its file.
DATABASE_CHECK = Statement("SELECT 1 FROM account LIMIT 1")


@probes.get("/healthz")
def healthz():
    return jsonify({"status": "ok"})


@probes.get("/readyz")
def readyz():
    """200 "ready" when everything answers; 200 "degraded" when only Redis does not (the database
    then enforces the rate limits, docs/limits.md); 503 "unavailable" when the database does not.
    Each part says "ok" or why not."""
    report = {"database": database_problem() or "ok"}
    if current_app.config["REDIS_URL"]:
        report["redis"] = current_app.extensions["limiter"].redis_problem() or "ok"
    if report["database"] != "ok":
        return jsonify({"status": "unavailable", **report}), 503
    return jsonify({"status": "ready" if report.get("redis", "ok") == "ok" else "degraded", **report})


def database_problem():
    """None when the database answers a query now, else why it does not."""
    try:
        with db.connection_context():
            DATABASE_CHECK.run()
    except Exception as error:  # whatever it is, the gateway cannot serve
        return database.reason(error)
    return None
