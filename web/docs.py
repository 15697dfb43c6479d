"""The API documentation `/`: public, the examples aimed at this server's own URL and, once signed
in, at the visitor's newest key; the models and prices read from the database."""
from itertools import groupby

from flask import Blueprint, current_app, render_template, request

import errors
import routing
from providers import PROVIDERS
from web import queries
from web.auth import current_account
from web.i18n import t

docs = Blueprint("docs", __name__)

KEY_PLACEHOLDER = "sk-qc-YOUR_KEY"
# (id, title, highlight language, template under templates/examples/)
EXAMPLES = (("curl", "ex_curl", "bash", "curl.sh"), ("python", "ex_python", "python", "python.py"),
            ("openai", "ex_openai", "python", "openai.py"), ("fetch", "ex_fetch", "javascript", "fetch.js"),
            ("stream", "ex_stream", "javascript", "stream.js"))
EMBEDDINGS_EXAMPLE = ("embeddings", "ex_embeddings", "python", "embeddings.py")
CLAUDE_EXAMPLES = (("claude_code", "ex_claude_code", "bash", "claude_code.sh"),
                   ("anthropic", "ex_anthropic", "python", "anthropic.py"))
# What the embeddings example names when no embedding model is priced yet.
EMBEDDING_PLACEHOLDER = ("qwen", "text-embedding-v4")
REQUEST_HEADERS = (("Content-Type", "yes", "h_content_type"), ("X-API-Key", "one_of_two", "h_api_key"),
                   ("Authorization: Bearer", "one_of_two", "h_authorization"),
                   ("X-AI-Provider", "no", "h_provider"), ("X-Request-ID", "no", "h_request_id"))
BODY_PARAMETERS = (("model", "string", "yes", "p_model"), ("messages", "array", "yes", "p_messages"),
                   ("temperature", "number", "no", "p_temperature"),
                   ("max_tokens", "integer", "no", "p_max_tokens"), ("stream", "boolean", "no", "p_stream"),
                   ("stream_options", "object", "no", "p_stream_options"))
# One row per status and text, listing its codes, from the registry of error codes.
ERRORS = tuple((status, " · ".join(code for _, code, _ in rows), text)
               for (status, text), rows in groupby(errors.CODES, key=lambda row: (row[0], row[2])))


@docs.get("/")
def index():
    prices = routing.reachable_prices(current_app.config["UPSTREAMS"])
    provider, model = ((prices[0].provider, prices[0].model) if prices
                       else next((name, p.models[0]) for name, p in PROVIDERS.items()))
    embedding_provider, embedding_model = embedding_model_of(prices)
    values = dict(base_url=request.host_url.rstrip("/"), key=key_placeholder(current_account()),
                  provider=provider, model=model, prompt=t("example_prompt"),
                  prompt_more=t("example_prompt_more"), embedding_provider=embedding_provider,
                  embedding_model=embedding_model)
    return render_template("docs.html", prices=prices, examples=rendered(EXAMPLES, values),
                           embeddings=rendered([EMBEDDINGS_EXAMPLE], values)[0],
                           claude=rendered(CLAUDE_EXAMPLES, values), headers=REQUEST_HEADERS,
                           parameters=BODY_PARAMETERS, errors=ERRORS, providers=by_provider(prices),
                           **values)


def by_provider(prices):
    """[(provider, its first priced model)], by provider name: how to pick each one."""
    return [(name, next(rows).model) for name, rows in groupby(prices, key=lambda p: p.provider)]


def rendered(examples, values):
    return [dict(id=name, title=t(title), language=language,
                 code=render_template(f"examples/{template}", **values))
            for name, title, language, template in examples]


def embedding_model_of(prices):
    """(provider, model) of the first priced embedding model: input alone is priced, and its
    provider sells embeddings."""
    return next(((p.provider, p.model) for p in prices if not p.output and not p.cached_input
                 and getattr(PROVIDERS.get(p.provider), "embeddings", False)), EMBEDDING_PLACEHOLDER)


def key_placeholder(account):
    """The signed-in user's newest active key as `sk-qc-AbCd1234…`: they know which key to paste."""
    active = [key for key in queries.keys_of(account.id) if key.state == "active"] if account else []
    return active[0].prefix + "…" if active else KEY_PLACEHOLDER
