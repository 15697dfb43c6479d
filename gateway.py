"""Qingcheng Gateway: many AI providers behind one OpenAI-compatible API, with keys and balances.

`create_app` lists the parts. Below it, the path of a chat completion, top to bottom:
authenticate → parse → route (model, channels) → admit (rate limits, hold) → call the channels in
turn until one answers (failover.py) → relay → settle. The other API surfaces (surfaces/:
embeddings, Anthropic's Messages, OpenAI's Responses) parse their own bodies, then take the same
path through `serve`.
"""
import logging
import os
import re
import secrets
import time
import uuid
from dataclasses import replace

import click
from flask import Blueprint, Flask, Response, current_app, g, jsonify, request

import billing
import channels
import chat_request
import cli
import cli_channels
import config_cache
import cors
import credentials
import database
import errors
import failover
import health
import key_policy
import limits
import logs
import metrics
import money
import readiness
import request_report
import routing
import surfaces
import web
from database import db
from errors import ApiError, bad_request
from models import Account, ApiKey, IntegrityError, KEY_PREFIX, Price, create_tables, setting
from providers import relay, upstream_connection, upstreams_from_env

log = logging.getLogger("qingcheng")
api = Blueprint("api", __name__)

SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:@/+=-]{1,128}$")
# gunicorn.conf.py lets longer header lines through, so that the API can refuse them in JSON.
MAX_HEADER_BYTES = 8190
INVALID_KEY = ApiError(401, "invalid_api_key", "Missing or invalid API key.")


def create_app(config=None):
    """The gateway, configured from the environment (README "Configuration"), then `config`."""
    app = Flask(__name__, template_folder=web.asset_dir("templates"),
                static_folder=web.asset_dir("static"))
    app.config.from_mapping(config_from_env(os.environ))
    app.config.update(config or {})
    logs.configure(app.config["LOG_FORMAT"])
    db.initialize(database.open_database(app.config["DATABASE_URL"], app.config["DATABASE_POOL_SIZE"]))
    keyring = credentials.Keyring(app.config["ENCRYPTION_KEY"],
                                  credentials.key_file_for(app.config["DATABASE_URL"]))
    with db.connection_context():
        create_tables()
        bootstrap_admin()
        app.config["SECRET_KEY"] = app.config["SECRET_KEY"] or setting(
            "secret_key", lambda: secrets.token_hex(32))
        channels.sync_env(app.config["UPSTREAMS"])
        warn_when_no_provider(app.config["UPSTREAMS"])
    app.extensions.update(keyring=keyring, upstream_session=upstream_connection.new_session(),
                          health=health.Health(app.config["CHANNEL_FAILURES_TO_COOL"],
                                               app.config["CHANNEL_COOLDOWN_SECONDS"]))
    timeouts = app.config["TIMEOUTS"]
    # No live request is older than this; a hold that is must have lost its worker.
    longest_request = timeouts.total + timeouts.read + app.config["HOLD_GRACE_SECONDS"]
    app.extensions["limiter"] = limits.limiter_for(app.config["REDIS_URL"], longest_request)
    app.config["HOLD_MAX_AGE"] = longest_request
    app.before_request(open_request)
    for hook in (connect_database,
                 money.HoldSweeper(longest_request, app.config["HOLD_SWEEP_INTERVAL"]),
                 health.Prober(app.config["CHANNEL_PROBE_SECONDS"], keyring,
                               app.extensions["upstream_session"], timeouts,
                               upstreams=lambda: app.config["UPSTREAMS"])):
        app.before_request(unless_probe(hook))
    app.after_request(finish_response)
    app.teardown_request(close_database)
    app.teardown_request(forget_request_id)
    errors.register(app, page_error=web.error_page)
    cors.register(app)
    cli.register(app)
    cli_channels.register(app)
    app.register_blueprint(api)
    app.register_blueprint(readiness.probes)
    app.register_blueprint(metrics.blueprint)
    surfaces.register(app)
    import openapi  # it reads the surfaces, which load after the gateway
    app.register_blueprint(openapi.openapi)
    web.register(app)
    return app


def gunicorn_app():
    """The app as gunicorn serves it (gunicorn.conf.py): a lost or changed encryption key stops the
    start here, loudly, if any stored channel key does not decrypt. The command line starts without
    this check, so that `channels remove` can still clear what cannot be decrypted."""
    app = create_app()
    with db.connection_context():
        channels.check_keys(app.extensions["keyring"])
    return app


def config_from_env(environ):
    number = lambda name, default: float(environ.get(name, default))  # noqa: E731
    return {
        "DATABASE_URL": environ.get("DATABASE_URL", "sqlite:///qingcheng.db"),
        "DATABASE_POOL_SIZE": int(environ.get("DATABASE_POOL_SIZE", 8)),
        "REDIS_URL": environ.get("REDIS_URL") or None,
        "SECRET_KEY": environ.get("SECRET_KEY") or None,
        "MAX_CONTENT_LENGTH": int(environ.get("MAX_REQUEST_BYTES", 4 * 1024 * 1024)),
        "CORS_ORIGINS": environ.get("CORS_ORIGINS", ""),
        "LOG_FORMAT": environ.get("LOG_FORMAT", "text"),
        "METRICS_TOKEN": environ.get("METRICS_TOKEN", ""),
        "UPSTREAMS": upstreams_from_env(environ),
        "TIMEOUTS": relay.Timeouts(connect=number("UPSTREAM_CONNECT_TIMEOUT", 5),
                                   read=number("UPSTREAM_READ_TIMEOUT", 120),
                                   total=number("UPSTREAM_DEADLINE", 600),
                                   keepalive=number("SSE_KEEPALIVE_SECONDS", 10)),
        "HOLD_GRACE_SECONDS": number("HOLD_GRACE_SECONDS", 60),
        "HOLD_SWEEP_INTERVAL": number("HOLD_SWEEP_INTERVAL", 30),
        "ENCRYPTION_KEY": environ.get("ENCRYPTION_KEY") or None,
        "CHANNEL_MAX_ATTEMPTS": int(environ.get("CHANNEL_MAX_ATTEMPTS", 3)),
        "CHANNEL_FAILURES_TO_COOL": int(environ.get("CHANNEL_FAILURES_TO_COOL", 3)),
        "CHANNEL_COOLDOWN_SECONDS": number("CHANNEL_COOLDOWN_SECONDS", 30),
        "CHANNEL_PROBE_SECONDS": number("CHANNEL_PROBE_SECONDS", 300),
        # As gunicorn reads it: the proxies whose X-Forwarded-For is believed.
        "FORWARDED_PROXIES": key_policy.trusted_proxies(environ.get("FORWARDED_ALLOW_IPS",
                                                                    "127.0.0.1,::1")),
    }


def warn_when_no_provider(upstreams):
    """At a server's start; not under a `flask` command, whose shell need not hold the keys."""
    if click.get_current_context(silent=True) is None and not routing.usable_channels(upstreams):
        missing = ", ".join(f"{u.provider.env_prefix}_API_KEY" for u in upstreams.values())
        log.warning("No provider is configured: every chat request will get 503 until one of %s "
                    "is set, or a channel is added (flask --app gateway channels add).", missing)


def bootstrap_admin():
    """On first start (of the server, or of a `flask` command run before it), an `admin` account
    with a random password, printed once on stderr: the server's log or that command's terminal."""
    if Account.select().where(Account.is_admin).exists():
        return
    password = secrets.token_urlsafe(12)
    try:
        money.create_account("admin", is_admin=True, password=password)
    except IntegrityError:
        return  # another worker made it first
    log.warning("Created the admin account 'admin' with password %s. It is shown this once: sign "
                "in at /signin and change it at /password, or set one with `flask --app gateway "
                "accounts password admin`.", password)


def open_request():
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if SANE_REQUEST_ID.match(sent) else "req_" + uuid.uuid4().hex
    logs.REQUEST_ID.set(g.request_id)
    g.rate_headers = {}
    g.report = request_report.Report(g.request_id, request.path) if errors.is_api_request() else None
    if any(len(name) + len(value) > MAX_HEADER_BYTES for name, value in request.headers.items()):
        raise ApiError(431, "request_header_too_large",
                       f"A request header is longer than {MAX_HEADER_BYTES} bytes.")


def unless_probe(hook):
    """`hook` on every request but the probes, which must answer whatever the database does."""
    def run():
        if request.endpoint not in readiness.ENDPOINTS:
            hook()
    return run


def connect_database():
    db.connect(reuse_if_open=True)


def finish_response(response):
    response.headers["X-Request-ID"] = g.get("request_id", "")
    response.headers.update(g.get("rate_headers", {}))
    report = g.get("report")
    if report is not None and not report.deferred:  # a stream's is written when it settles
        report.finish(response.status_code)
    return response


def close_database(_exc):
    if not db.is_closed():
        db.close()


def forget_request_id(_exc):
    """Lines logged after a request carry no id; a stream's keep its until it settled."""
    report = g.get("report")
    if report is None or not report.deferred:
        logs.REQUEST_ID.set("-")


@api.post("/v1/chat/completions")
def chat_completions():
    key = authenticate()
    chat = chat_request.parse(read_body())
    return serve(key, chat, CHAT_COMPLETIONS)


class ChatCompletions:
    """The surface the providers speak: the call and the answer as they are. Every surface
    (surfaces/) has these three members, which shape the call and the answer for its callers."""

    def prepare(self, chat, provider):
        """The provider as this surface calls it, once `route` chose it (before anything is
        held): seen through a translation, or another of its endpoints. It may rewrite
        `chat.body` for that provider, or refuse. Called once per request."""
        return provider

    def answer(self, answer, usage):
        """The caller's body from the provider's whole answer, once it is settled."""
        return answer

    def error_event(self, error):
        """The last event of a stream that failed part-way."""
        return relay.error_event(error)


CHAT_COMPLETIONS = ChatCompletions()


def serve(key, chat, surface):
    """A parsed request, from routing to settlement, answered in the `surface`'s shape."""
    plan, price = route(chat, key)
    prepared = surface.prepare(chat, plan[0].provider)  # once, whichever channel then serves it
    plan = [replace(channel, provider=prepared) for channel in plan]
    bill = admit(key, chat, price)
    db.close()  # no database connection is held across upstream I/O
    call = failover.Call(current_app.extensions["upstream_session"], current_app.config["TIMEOUTS"],
                         current_app.extensions["health"], time.monotonic())
    with bill:  # whatever fails from here on releases the hold at once
        if chat.stream:
            return stream_response(plan, chat, bill, call, surface)
        answer, usage = failover.complete(plan, chat, bill, call)
        g.report.answer_ready()
        bill.charge(usage, completion_estimate=0 if usage else
                    billing.text_tokens(billing.answer_text_bytes(answer)))
    return Response(surface.answer(answer, usage), mimetype="application/json")


def authenticate():
    """The caller's active key, from `X-API-Key` or `Authorization: Bearer`; the same 401 for
    a key that is missing, malformed, unknown, revoked or expired; 403 from a network the key's
    owner did not allow."""
    token = request.headers.get("X-API-Key", "")
    scheme, _, bearer = request.headers.get("Authorization", "").partition(" ")
    if not token and scheme.lower() == "bearer":
        token = bearer.strip()
    if not token.startswith(KEY_PREFIX) or len(token) > 256:
        raise INVALID_KEY
    config_cache.refresh()
    key = ApiKey.lookup(token)
    if key is None:
        raise INVALID_KEY
    g.report.key = key
    if key.ips:
        key_policy.check_address(key, caller_address())
    return key


def caller_address():
    """The caller's address: behind a proxy in FORWARDED_ALLOW_IPS, the one it forwarded."""
    return key_policy.caller_address(request.remote_addr, request.headers.get("X-Forwarded-For"),
                                     current_app.config["FORWARDED_PROXIES"])


def read_body():
    """The request body; 413 from Content-Length alone, before reading a byte of it, or, for a
    chunked body, once it runs past the limit (the server ends a chunked body: README "The API")."""
    limit = current_app.config["MAX_CONTENT_LENGTH"]
    too_large = ApiError(413, "request_too_large", f"The request body is larger than {limit} bytes.",
                         headers={"Connection": "close"})
    if request.content_length is not None:
        if request.content_length > limit:
            raise too_large
        return request.get_data()
    chunked = request.environ.get("wsgi.input_terminated")
    body = request.environ["wsgi.input"].read(limit + 1) if chunked else b""
    if len(body) > limit:
        raise too_large
    return body


def route(chat, key):
    """The channels to try, in order, and the price of the request's model (an alias's target),
    with the body aimed at it: 400 for an unknown provider or model, 403 for a model the key may
    not use, 503 when no enabled channel serves it."""
    provider, model = routing.target(chat.model, request.headers.get("X-AI-Provider", "").strip().lower())
    key_policy.check_model(key, chat.model, provider, model)
    price = Price.of(provider, model)
    if price is None:
        raise bad_request(f"The model '{model}' is not available from provider '{provider}'.",
                          "model", code="model_not_found")
    plan = routing.plan(provider, model, current_app.config["UPSTREAMS"],
                        current_app.extensions["keyring"], current_app.config["CHANNEL_MAX_ATTEMPTS"])
    chat.aim(model, price.max_output)
    g.report.routed(provider, model, chat.stream)
    return plan, price


def admit(key, chat, price):
    """Within the key's rate limits (429), hold the request's maximum cost (403)."""
    most = billing.max_cost(price, billing.prompt_token_bound(chat.body_bytes, chat.message_count),
                            chat.max_tokens)
    try:
        bill = money.Bill.admit(key, current_app.extensions["limiter"], price, most, g.request_id,
                                price.provider, price.model, chat.stream,
                                prompt=(chat.text_bytes, chat.message_count),
                                keep_for=current_app.config["HOLD_MAX_AGE"], client_ip=caller_address())
    except limits.RateLimited as refusal:
        g.report.limit = refusal.limit
        raise
    g.rate_headers = bill.ticket.headers
    g.report.bill = bill
    return bill


def stream_response(plan, chat, bill, call, surface):
    """The first channel's stream that starts, as an SSE response in the `surface`'s shape,
    settled once it knows what it delivered."""
    report = g.report

    def settle(stream):
        try:
            bill.charge(stream.usage, stream.status, completion_estimate=stream.content_chunks,
                        delivered=stream.usage is not None or stream.content_chunks > 0)
        finally:
            report.answer_ready()  # no-op unless the first event was also the last
            report.finish(stream.status)

    stream = failover.stream(plan, chat, bill, call, on_finish=settle, error_event=surface.error_event)
    report.answer_ready()
    report.deferred = True
    return Response(stream, mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def authenticate_and_report():
    """`authenticate()` for a route that admits nothing but still shows the key's limits."""
    key = authenticate()
    g.rate_headers = limits.current_headers(key)
    return key


@api.get("/v1/models")
def list_models():
    """The models callers can reach now, aliases included, as far as the key may use them."""
    key = authenticate_and_report()
    reachable = routing.available(current_app.config["UPSTREAMS"])
    return jsonify({"object": "list", "data": [
        {"id": name, "object": "model", "created": 0, "owned_by": provider}
        for name, provider, model in reachable if key_policy.allows_model(key, name, provider, model)]})


@api.get("/v1/balance")
def balance():
    account = Account.get_by_id(authenticate_and_report().account_id)
    return jsonify({"currency": "CNY", "balance": money.yuan(account.balance),
                    "held": money.yuan(account.held)})

