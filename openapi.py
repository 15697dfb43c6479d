"""GET /openapi.json: the API as an OpenAPI 3.1 document, built here as plain data. The request
schemas say what the parsers (chat_request.py, surfaces/) enforce, no more: every field they do not
check goes upstream unchanged, so the bodies allow more properties. The error statuses come from the
registry of error codes (errors.CODES)."""
from flask import Blueprint, jsonify, request

import chat_request
import errors
from providers import PROVIDERS
from surfaces import embeddings, responses

openapi = Blueprint("openapi", __name__)

JSON = "application/json"


def ref(name, kind="schemas"):
    return {"$ref": f"#/components/{kind}/{name}"}


def optional(*types, **schema):
    """A field the caller may leave out or send as null (the parsers treat both alike)."""
    return {"type": [*types, "null"], **schema}


def obj(properties, required=(), more=True, **schema):
    """An object schema; `more`: whether other properties are allowed (passed on upstream)."""
    return {"type": "object", "properties": properties, **({"required": list(required)} if required else {}),
            "additionalProperties": more, **schema}


def body(schema_name, description):
    return {"required": True, "description": description,
            "content": {JSON: {"schema": ref(schema_name)}}}


def answer(description, schema_name, stream=None):
    """A 200 answer: JSON, and for a streaming route its SSE when the body asks for a stream."""
    content = {JSON: {"schema": ref(schema_name)}}
    if stream:
        content["text/event-stream"] = {"schema": obj(
            {"event": {"type": "string"}, "data": {"type": "string"}}, required=("data",),
            description=f"Each event of the stream: {stream}")}
    return {"description": description, "content": content}


# --- errors ------------------------------------------------------------------------------------

# The statuses a relayed request may end in beyond its parser's 400 and the key's 401/403.
RELAYED = (413, 429, 431, 500, 502, 503, 504)
CHECKED = (400, 401, 403)
READ_ONLY = (401, 403, 431, 500, 503)
RETRY_AFTER = {429: "always", 503: "with `database_unavailable`"}


def codes_of(status):
    return [code for code_status, code, _ in errors.CODES if code_status == status]


def error_responses(envelope="Error"):
    """One response per status of errors.CODES, named `<envelope><status>`, listing its codes."""
    out = {}
    for status in dict.fromkeys(status for status, _, _ in errors.CODES):
        response = {"description": "`" + "`, `".join(codes_of(status)) + "`",
                    "content": {JSON: {"schema": ref(envelope)}}}
        if status in RETRY_AFTER:
            response["headers"] = {"Retry-After": {
                "description": f"Seconds to wait before retrying; {RETRY_AFTER[status]}.",
                "required": status == 429, "schema": {"type": "string", "pattern": r"^\d+$"}}}
        out[f"{envelope}{status}"] = response
    out[f"{envelope}Upstream4XX"] = {
        "description": "The upstream refused the request itself (e.g. 400, 422): its status and "
                       "message passed on.", "content": {JSON: {"schema": ref(envelope)}}}
    return out


def errors_for(statuses, envelope="Error", upstream=False):
    out = {str(status): ref(f"{envelope}{status}", "responses") for status in statuses}
    if upstream:
        out["4XX"] = ref(f"{envelope}Upstream4XX", "responses")
    return out


OPENAI_ERROR = obj({"error": obj({
    "message": {"type": "string"}, "type": {"type": "string"},
    "param": {"type": ["string", "null"]}, "code": {"type": "string"}},
    required=("message", "type", "param", "code"))}, required=("error",),
    description="OpenAI's error envelope; `code` is one of the gateway's (see each status).")
ANTHROPIC_ERROR = obj({"type": {"const": "error"}, "error": obj({
    "type": {"type": "string"}, "message": {"type": "string"}}, required=("type", "message"))},
    required=("type", "error"), description="Anthropic's error envelope, on /v1/messages.")

# --- request bodies ----------------------------------------------------------------------------

MODEL = {"type": "string", "pattern": r"^[^\u0000]*[^\s\u0000][^\u0000]*$",
         "description": "A priced model, an alias, or `provider/model`."}
COUNT = optional("integer", minimum=1)
STREAM = optional("boolean", description="An SSE stream (`text/event-stream`) when true.")
CHAT_MESSAGE = obj({"role": {"type": "string"}, "content": optional("string", "array")},
                   required=("role",))
CHAT_REQUEST = obj({
    "model": MODEL,
    "messages": {"type": "array", "minItems": 1, "maxItems": chat_request.MAX_MESSAGES,
                 "items": ref("ChatMessage")},
    "temperature": optional("number", minimum=0, maximum=2,
                            default=chat_request.DEFAULT_TEMPERATURE),
    "max_tokens": optional("integer", minimum=1,
                           description="At most the model's largest (its default)."),
    "stream": STREAM,
    "stream_options": optional("object", properties={"include_usage": {"type": "boolean"}}),
}, required=("model", "messages"),
    description="OpenAI's Chat Completions; every other field goes upstream unchanged.")

TOKEN_IDS = {"type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 0},
             "description": "Token ids, written as integers (7, not 7.0)."}
TEXT = {"type": "string", "minLength": 1}
EMBEDDINGS_REQUEST = obj({
    "model": MODEL,
    "input": {"anyOf": [TEXT, TOKEN_IDS, {"type": "array", "minItems": 1,
                                          "maxItems": embeddings.MAX_INPUTS,
                                          "items": {"anyOf": [TEXT, TOKEN_IDS]}}]},
    "encoding_format": optional("string", enum=[*embeddings.ENCODINGS, None]),
    "dimensions": COUNT,
}, required=("model", "input"))

BLOCK = obj({"type": {"type": "string"}}, required=("type",))
MESSAGES_REQUEST = obj({
    "model": MODEL,
    "messages": {"type": "array", "minItems": 1, "maxItems": chat_request.MAX_MESSAGES,
                 "items": obj({"role": {"enum": ["user", "assistant"]},
                               "content": {"anyOf": [{"type": "string"},
                                                     {"type": "array", "items": BLOCK}]}},
                              required=("role", "content"))},
    "system": optional("string", "array", items=BLOCK),
    "max_tokens": optional("integer", minimum=1,
                           description="A ceiling: above the model's largest, lowered to it."),
    "temperature": optional("number", minimum=0, maximum=1),
    "stream": STREAM,
}, required=("model", "messages"), description="Anthropic's Messages.")

STRING = {"type": "string"}
PARTS = {"type": "array", "items": BLOCK}
RESPONSE_ITEM = {"anyOf": [
    obj({"type": {"const": "message"}, "role": {"enum": ["user", "assistant", "system", "developer"]},
         "content": {"anyOf": [STRING, PARTS]}}, required=("role", "content")),
    obj({"type": {"const": "function_call"}, "call_id": STRING, "name": STRING,
         "arguments": optional("string")}, required=("type", "call_id", "name")),
    obj({"type": {"const": "function_call_output"}, "call_id": STRING,
         "output": {"anyOf": [STRING, PARTS]}}, required=("type", "call_id", "output")),
    obj({"type": {"const": "reasoning"}, "summary": optional("array")}, required=("type",)),
]}
RESPONSES_REQUEST = obj({
    "model": MODEL,
    "input": {"anyOf": [STRING, {"type": "array", "minItems": 1, "items": RESPONSE_ITEM}]},
    "instructions": optional("string"),
    "tools": optional("array", items=obj({"type": {"const": "function"}, "name": {"type": "string"}},
                                         required=("type", "name"))),
    "text": optional("object"),
    "reasoning": optional("object"),
    "temperature": optional("number", minimum=0, maximum=2),
    "top_p": optional("number", minimum=0, maximum=1),
    "max_output_tokens": optional("integer", minimum=1,
                                  description="A ceiling: above the model's largest, lowered to it."),
    "stream": STREAM,
    **{name: {"type": "null", "description": "Stateful: refused (400 `unsupported_parameter`)."}
       for name in responses.STATEFUL if name != "background"},
    "background": {"enum": [False, None]},
}, required=("model", "input"), description="OpenAI's Responses, stateless.")

# --- answers -----------------------------------------------------------------------------------

USAGE = {"type": "object"}
CHAT_COMPLETION = obj({"id": {"type": "string"}, "object": {"type": "string"},
                       "choices": {"type": "array"}, "usage": USAGE}, required=("choices",),
                      description="The provider's answer in OpenAI's shape.")
EMBEDDINGS_ANSWER = obj({"object": {"const": "list"}, "data": {"type": "array", "items": obj({
    "embedding": {"type": ["array", "string"]}, "index": {"type": "integer"}})},
    "model": {"type": "string"}, "usage": USAGE}, required=("data",))
MESSAGE = obj({"id": {"type": "string"}, "type": {"const": "message"}, "role": {"const": "assistant"},
               "content": {"type": "array", "items": BLOCK}, "model": {"type": "string"},
               "stop_reason": {"type": ["string", "null"]}, "usage": USAGE},
              required=("type", "content"))
RESPONSE = obj({"id": {"type": "string"}, "object": {"const": "response"},
                "status": {"type": "string"}, "output": {"type": "array"},
                "usage": {"type": ["object", "null"]}}, required=("id", "object", "status", "output"))
MODEL_OBJECT = obj({"id": {"type": "string"}, "object": {"const": "model"},
                    "created": {"type": "integer"}, "owned_by": {"type": "string"}},
                   required=("id", "object", "owned_by"), more=False)
YUAN = {"type": "string", "pattern": r"^-?\d+\.\d{6}$"}

SCHEMAS = {
    "Error": OPENAI_ERROR, "AnthropicError": ANTHROPIC_ERROR,
    "ChatMessage": CHAT_MESSAGE, "ChatCompletionRequest": CHAT_REQUEST,
    "ChatCompletion": CHAT_COMPLETION,
    "EmbeddingsRequest": EMBEDDINGS_REQUEST, "Embeddings": EMBEDDINGS_ANSWER,
    "MessagesRequest": MESSAGES_REQUEST, "Message": MESSAGE,
    "TokenCount": obj({"input_tokens": {"type": "integer", "minimum": 0}},
                      required=("input_tokens",), more=False),
    "ResponsesRequest": RESPONSES_REQUEST, "Response": RESPONSE,
    "Model": MODEL_OBJECT,
    "ModelList": obj({"object": {"const": "list"}, "data": {"type": "array", "items": ref("Model")}},
                     required=("object", "data"), more=False),
    "Balance": obj({"currency": {"const": "CNY"}, "balance": YUAN, "held": YUAN},
                   required=("currency", "balance", "held"), more=False),
    "Health": obj({"status": {"const": "ok"}}, required=("status",), more=False),
    "Readiness": obj({"status": {"enum": ["ready", "degraded", "unavailable"]},
                      "database": {"type": "string"}, "redis": {"type": "string"}},
                     required=("status", "database"), more=False,
                     description="Each part says `ok`, or why not."),
}

# --- operations --------------------------------------------------------------------------------

KEYED = [{"apiKey": []}, {"bearer": []}]
ROUTED = [ref("Provider", "parameters"), ref("RequestId", "parameters")]


def relayed(summary, request_schema, answer_schema, stream, envelope="Error", extra=()):
    """A POST that is routed, held, relayed upstream and settled."""
    return {"post": {
        "summary": summary, "security": KEYED, "parameters": ROUTED + list(extra),
        "requestBody": body(request_schema, "At most MAX_REQUEST_BYTES (4 MiB by default)."),
        "responses": {"200": answer("The answer.", answer_schema, stream),
                      **errors_for(CHECKED + RELAYED, envelope, upstream=True)}}}


def read(summary, answer_schema, statuses=READ_ONLY, parameters=()):
    """A GET of the key's own view, nothing held."""
    return {"get": {"summary": summary, "security": KEYED, "parameters": list(parameters),
                    "responses": {"200": answer("The answer.", answer_schema),
                                  **errors_for(statuses)}}}


ANTHROPIC_VERSION = {"name": "anthropic-version", "in": "header", "required": False,
                     "schema": {"type": "string"}, "description": "Passed to Anthropic as sent."}
MODEL_ID = {"name": "model_id", "in": "path", "required": True,
            "schema": {"type": "string", "minLength": 1}, "description": "A name or provider/name."}

PATHS = {
    "/v1/chat/completions": relayed(
        "Chat completions, streaming or not", "ChatCompletionRequest", "ChatCompletion",
        "OpenAI's chunks, as `data:` lines ending in `data: [DONE]`."),
    "/v1/embeddings": relayed("Embeddings", "EmbeddingsRequest", "Embeddings", None),
    "/v1/messages": relayed("Anthropic's Messages", "MessagesRequest", "Message",
                            "Anthropic's named events.", "AnthropicError", [ANTHROPIC_VERSION]),
    "/v1/messages/count_tokens": {"post": {
        "summary": "An upper bound of the prompt's tokens (what a request is held for)",
        "security": KEYED, "parameters": ROUTED,
        "requestBody": body("MessagesRequest", "As for /v1/messages."),
        "responses": {"200": answer("The bound.", "TokenCount"),
                      **errors_for((400, 401, 403, 413, 431, 500, 503), "AnthropicError")}}},
    "/v1/responses": relayed("OpenAI's Responses, stateless", "ResponsesRequest", "Response",
                             "Responses events (`response.created` … `response.completed`)."),
    "/v1/models": read("The models the key may use now, aliases included", "ModelList"),
    "/v1/models/{model_id}": read("One of the models /v1/models lists", "Model",
                                  READ_ONLY + (404,), [MODEL_ID]),
    "/v1/balance": read("The account's balance and held amount, in 元", "Balance"),
    "/healthz": {"get": {"summary": "The process is alive (it touches nothing else)", "security": [],
                         "responses": {"200": answer("Alive.", "Health")}}},
    "/readyz": {"get": {"summary": "It can serve: the database answers, and Redis when it has one",
                        "security": [], "responses": {
                            "200": answer("`ready`, or `degraded` when only Redis does not answer.",
                                          "Readiness"),
                            "503": answer("`unavailable`: the database does not answer.", "Readiness")}}},
}

PARAMETERS = {
    "Provider": {"name": "X-AI-Provider", "in": "header", "required": False,
                 "schema": {"type": "string", "examples": list(PROVIDERS)},
                 "description": "The upstream provider (or a self-hosted channel's name); when "
                                "absent the model decides."},
    "RequestId": {"name": "X-Request-ID", "in": "header", "required": False,
                  "schema": {"type": "string"},
                  "description": "Echoed back when it is 1–128 of `A-Za-z0-9._:@/+=-`; else one "
                                 "is made."},
}


def document(base_url):
    return {
        "openapi": "3.1.0",
        "info": {"title": "Qingcheng Gateway", "version": "1",
                 "description": "Many AI providers behind one OpenAI-compatible API."},
        "servers": [{"url": base_url}],
        "security": KEYED,
        "paths": PATHS,
        "components": {
            "securitySchemes": {
                "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                "bearer": {"type": "http", "scheme": "bearer"}},
            "parameters": PARAMETERS,
            "schemas": SCHEMAS,
            "responses": {**error_responses(), **error_responses("AnthropicError")},
        },
    }


@openapi.get("/openapi.json")
def serve_document():
    return jsonify(document(request.host_url.rstrip("/")))

