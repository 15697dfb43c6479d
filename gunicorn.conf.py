"""gunicorn settings: `gunicorn -c gunicorn.conf.py`; GUNICORN_CMD_ARGS overrides any of them.

Kept free of heavy imports: gevent patches the worker after this file is loaded (docs/streaming.md).
"""
import os

wsgi_app = "gateway:gunicorn_app()"
bind = os.environ.get("BIND", "0.0.0.0:9090")
workers = int(os.environ.get("WEB_CONCURRENCY", 2))
# gunicorn's gevent worker, but a stop closes idle keep-alive connections at once (gevent_worker.py).
worker_class = "gevent_worker.GeventWorker"
# Concurrent connections a worker serves; a stream holds two file descriptors (the caller's and
# the upstream's), so the open-file limit must exceed 2 × this (README "Deploying behind nginx").
worker_connections = 10000
# For gevent workers this is a liveness heartbeat, not a request limit; streams run longer.
timeout = 30
# How long a stop or reload lets requests in flight (streams) finish; deploy/ waits longer.
graceful_timeout = 30
keepalive = 75
# Longer than the app's own limit (gateway.MAX_HEADER_BYTES), so that an oversized header gets the
# API's JSON 431 rather than gunicorn's HTML one.
limit_request_field_size = 32768
# gunicorn 23+'s control socket has one fixed path: several gateways on one host would collide.
control_socket_disable = True
# No text access log by default: every API request is a row of the request log (request id,
# key, model, tokens, cost, status, duration), and the line costs ~4% of a request's CPU.
# `--access-logfile -` turns it on, in a format that leaves out headers, where keys travel.
accesslog = None
access_log_format = '%(h)s "%(r)s" %(s)s %(b)s %(M)sms'


def post_worker_init(worker):
    """After gevent has patched the worker: make psycopg2 cooperative when PostgreSQL is used."""
    if os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        from psycogreen.gevent import patch_psycopg
        patch_psycopg()
