"""The routes of the API surfaces beyond Chat Completions. Each parses its own body, then takes
the gateway's path (`gateway.serve`: route, admit, call, relay, settle) with a surface object that
shapes the call and the answer: the members of `gateway.ChatCompletions`."""
import logging
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

import billing
import gateway
import key_policy
import routing
from errors import ApiError
from providers.anthropic_wire import NativeMessages
from surfaces import embeddings, messages, responses
from surfaces.wire import sse_event

log = logging.getLogger("qingcheng")
openai_shaped = Blueprint("surfaces", __name__)
anthropic_shaped = Blueprint("anthropic_surface", __name__)  # errors in Anthropic's envelope

# The version of Anthropic's API a caller that names none gets from a native upstream.
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error",
                         402: "billing_error", 403: "permission_error", 404: "not_found_error",
                         413: "request_too_large", 429: "rate_limit_error", 504: "timeout_error"}


@openai_shaped.post("/v1/embeddings")
def create_embeddings():
    key = gateway.authenticate()
    return gateway.serve(key, embeddings.parse(gateway.read_body()), embeddings.Embeddings())


@openai_shaped.post("/v1/responses")
def create_response():
    key = gateway.authenticate()
    body, chat = responses.parse(gateway.read_body())
    return gateway.serve(key, chat, ResponsesSurface(body))


@openai_shaped.get("/v1/models/<path:model_id>")
def retrieve_model(model_id):
    """One of the models `/v1/models` lists (an alias included), by name or `provider/name`."""
    key = gateway.authenticate_and_report()
    for name, provider, model in routing.available(current_app.config["UPSTREAMS"]):
        if model_id in (name, f"{provider}/{name}") and key_policy.allows_model(key, name, provider, model):
            return jsonify({"id": model_id, "object": "model", "created": 0, "owned_by": provider})
    raise ApiError(404, "model_not_found", f"The model '{model_id}' does not exist.", param="model")


@anthropic_shaped.post("/v1/messages")
def create_message():
    key = gateway.authenticate()
    chat = messages.parse(gateway.read_body())
    return gateway.serve(key, chat, MessagesSurface(chat.model, request.headers))


@anthropic_shaped.post("/v1/messages/count_tokens")
def count_tokens():
    """The gateway's upper bound of the prompt's tokens (docs/money.md): what a request with this
    prompt is held for."""
    key = gateway.authenticate_and_report()
    raw = gateway.read_body()
    chat = messages.parse(raw)
    gateway.route(chat, key)
    return jsonify({"input_tokens": billing.prompt_token_bound(len(raw), chat.message_count)})


class MessagesSurface:
    """Anthropic's Messages: relayed as they are to a provider that speaks them, else translated
    to and from Chat Completions."""

    def __init__(self, model, headers):
        self.model = model  # as the caller named it, for the answers
        self.version = headers.get("anthropic-version") or ANTHROPIC_VERSION
        self.beta = headers.get("anthropic-beta")
        self.native = False

    def prepare(self, chat, provider):
        if getattr(provider, "speaks_messages", False):
            self.native = True
            return NativeMessages(provider.name, self.version, self.beta)
        chat.body = messages.chat_body(chat.body, reasoning_switch(provider))
        return Translated(provider, messages.MessageStream(self.model).events)

    def answer(self, answer, usage):
        return answer if self.native else messages.message(answer, usage, self.model)

    def error_event(self, error):
        return sse_event("error", anthropic_error(error))


class ResponsesSurface:
    """OpenAI's Responses, translated to and from Chat Completions for every provider."""

    def __init__(self, body):
        self.body = body
        self.stream = responses.ResponseStream(responses.skeleton(body, body["model"]))

    def prepare(self, chat, provider):
        chat.body.update(responses.reasoning(self.body, reasoning_switch(provider)))
        return Translated(provider, self.stream.events)

    def answer(self, answer, usage):
        return responses.response(answer, usage, self.stream.base)

    def error_event(self, error):
        return self.stream.failed(error)


@dataclass(frozen=True)
class Translated:
    """A provider whose stream is translated into another API's events as it is relayed."""
    provider: object
    translate: Callable

    @property
    def name(self):
        return self.provider.name

    def request(self, upstream, body, stream):
        return self.provider.request(upstream, body, stream)

    def completion(self, payload):
        return self.provider.completion(payload)

    def events(self, chunks, wants_usage):
        return self.translate(self.provider.events(chunks, True))

    def error(self, status, payload, retry_after=None):
        return self.provider.error(status, payload, retry_after)


def reasoning_switch(provider):
    """The provider's `reasoning(enabled, budget)` fields, or none for a provider without one."""
    return getattr(provider, "reasoning", None) or (lambda enabled, budget: {})


def anthropic_error(error):
    """An ApiError in Anthropic's envelope, with the same status."""
    kind = ANTHROPIC_ERROR_TYPES.get(error.status, "api_error" if error.status >= 500
                                     else "invalid_request_error")
    return {"type": "error", "error": {"type": kind, "message": error.message}}


@anthropic_shaped.errorhandler(ApiError)
def anthropic_api_error(error):
    response = jsonify(anthropic_error(error))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


@anthropic_shaped.errorhandler(HTTPException)
def anthropic_http_error(error):
    return anthropic_api_error(ApiError(error.code, "invalid_request", error.description))


@anthropic_shaped.errorhandler(Exception)
def anthropic_internal_error(error):
    log.exception("internal error on %s %s", request.method, request.path)
    return anthropic_api_error(ApiError(500, "internal_error",
                                        "The gateway failed to handle this request."))
