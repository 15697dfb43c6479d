"""The routes of the API surfaces beyond Chat Completions. Each parses its own body, then takes
the gateway's path (`gateway.serve`: route, admit, call, relay, settle) with a surface object that
shapes the call and the answer: the members of `gateway.ChatCompletions`."""
from dataclasses import dataclass
from typing import Callable

from flask import Blueprint, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

import billing
import errors
import gateway
import key_policy
import routing
from errors import ApiError
from providers import anthropic_wire
from providers.sse import named_event
from surfaces import embeddings, messages, responses
from surfaces.wire import SeenThrough

openai_shaped = Blueprint("surfaces", __name__)
anthropic_shaped = Blueprint("anthropic_surface", __name__)  # errors in Anthropic's envelope


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
        self.version = headers.get("anthropic-version") or anthropic_wire.API_VERSION
        self.beta = headers.get("anthropic-beta")
        self.native = False

    def prepare(self, chat, provider):
        if getattr(provider, "speaks_messages", False):
            self.native = True
            return anthropic_wire.NativeMessages(provider.name, self.version, self.beta)
        chat.body = messages.chat_body(chat.body, reasoning_switch(provider))
        return Translated(provider, messages.MessageStream(self.model).events)

    def answer(self, answer, usage):
        return answer if self.native else messages.message(answer, usage, self.model)

    def error_event(self, error):
        return named_event("error", anthropic_wire.error_body(error.status, error.message))


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
class Translated(SeenThrough):
    """A provider whose stream is translated into another API's events as it is relayed."""
    translate: Callable

    def events(self, chunks, wants_usage):
        return self.translate(self.provider.events(chunks, True))


def reasoning_switch(provider):
    """The provider's `reasoning(enabled, budget)` fields, or none for a provider without one."""
    return getattr(provider, "reasoning", None) or (lambda enabled, budget: {})


@anthropic_shaped.errorhandler(ApiError)
def anthropic_api_error(error):
    response = jsonify(anthropic_wire.error_body(error.status, error.message))
    response.status_code = error.status
    response.headers.update(error.headers)
    return response


@anthropic_shaped.errorhandler(HTTPException)
def anthropic_http_error(error):
    return anthropic_api_error(ApiError(error.code, "invalid_request", error.description))


@anthropic_shaped.errorhandler(Exception)
def anthropic_internal_error(error):
    return anthropic_api_error(errors.server_error(error))
