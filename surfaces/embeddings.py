"""POST /v1/embeddings: OpenAI's Embeddings API, for the providers that sell embeddings. The body
goes upstream as the caller sent it (the model aimed), and the answer comes back as it came,
`encoding_format: base64` untouched; every token is input (docs/surfaces.md)."""
from dataclasses import dataclass

import gateway
from chat_request import check_count, check_model, json_object
from errors import bad_request
from surfaces.wire import SeenThrough

MAX_INPUTS = 2048
ENCODINGS = ("float", "base64")
BYTES_PER_TOKEN_ID = 3  # a token id counts as one token of text in the estimate


@dataclass
class EmbeddingsRequest:
    """An embeddings request as the gateway's path takes it (the members of a ChatRequest)."""
    body: dict
    inputs: list
    body_bytes: int
    stream = False
    wants_usage = False
    max_tokens = 0  # nothing is generated: the hold is the input's bound alone

    @property
    def model(self):
        return self.body["model"]

    @property
    def message_count(self):
        return len(self.inputs)

    @property
    def text_bytes(self):
        return sum(len(item.encode()) if isinstance(item, str) else BYTES_PER_TOKEN_ID * len(item)
                   for item in self.inputs)

    def aim(self, model, max_output):
        self.body["model"] = model


def parse(raw):
    """An EmbeddingsRequest from the raw body, or a 400 naming what is wrong."""
    body = json_object(raw)
    check_model(body.get("model"))
    inputs = _inputs(body.get("input"))
    if body.get("encoding_format", "float") not in ENCODINGS:
        raise bad_request("'encoding_format' must be 'float' or 'base64'.", "encoding_format")
    check_count(body, "dimensions")
    return EmbeddingsRequest(body=body, inputs=inputs, body_bytes=len(raw))


class Embeddings(gateway.ChatCompletions):
    """The surface: the provider's embeddings endpoint in place of its chat one, the answer as it
    came."""

    def prepare(self, request, provider):
        if not getattr(provider, "embeddings", False):
            raise bad_request(f"The provider {provider.name} offers no embeddings, so no model "
                              f"'{request.model}' for them.", "model", code="model_not_found")
        return EmbeddingsCall(provider)


class EmbeddingsCall(SeenThrough):
    """A provider as the relay calls it for embeddings."""

    def request(self, upstream, body, stream):
        return self.provider.embeddings_request(upstream, body)

    def completion(self, payload):
        return self.provider.embeddings_answer(payload)


def _inputs(value):
    """`input` as a list of items: strings, or arrays of token ids."""
    if isinstance(value, str) or _token_ids(value):
        value = [value]
    if not isinstance(value, list) or not value or len(value) > MAX_INPUTS:
        raise bad_request(f"'input' must be a string, an array of tokens, or an array of 1 to "
                          f"{MAX_INPUTS} strings or token arrays.", "input")
    for item in value:
        if not (isinstance(item, str) and item) and not _token_ids(item):
            raise bad_request("Each 'input' item must be a non-empty string or array of token ids.",
                              "input")
    return value


def _token_ids(value):
    return (isinstance(value, list) and bool(value)
            and all(isinstance(t, int) and not isinstance(t, bool) and t >= 0 for t in value))
