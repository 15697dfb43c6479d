"""The body of POST /v1/chat/completions: parsed, checked, with the gateway's defaults applied.
As in OpenAI's API, `null` for an optional field means it was not sent."""
import json
from dataclasses import dataclass

from errors import bad_request

DEFAULT_TEMPERATURE = 0.7
MAX_MESSAGES = 2048


@dataclass
class ChatRequest:
    body: dict            # what goes upstream; every field the caller sent, plus defaults
    stream: bool
    wants_usage: bool     # the caller asked for the usage chunk of a stream
    body_bytes: int
    # A caller's `max_tokens` above the model's largest is lowered to it rather than refused: for
    # APIs where it is only a ceiling and clients send large ones (Anthropic's, OpenAI's Responses).
    max_tokens_is_ceiling: bool = False

    @property
    def model(self):
        return self.body["model"]

    @property
    def max_tokens(self):
        return self.body["max_tokens"]

    @property
    def message_count(self):
        return len(self.body["messages"])

    @property
    def text_bytes(self):
        """UTF-8 bytes of the messages' text; only an estimate of missing usage needs it."""
        return sum(len(json.dumps(m["content"], ensure_ascii=False).encode())
                   for m in self.body["messages"] if m.get("content"))

    def aim(self, model, max_output):
        """Address the body to the upstream's `model`, whose answers may run to `max_output`
        tokens: the caller's `max_tokens` if it sent one within that, else `max_output`."""
        self.body["model"] = model
        max_tokens = self.body.setdefault("max_tokens", max_output)
        if max_tokens > max_output and self.max_tokens_is_ceiling:
            self.body["max_tokens"] = max_output
        elif max_tokens > max_output:
            raise bad_request(f"'max_tokens' may be at most {max_output} for {model}.", "max_tokens")


def parse(raw):
    """A ChatRequest from the raw body bytes, or a 400 ApiError naming what is wrong."""
    body = json_object(raw)
    check_model(body.get("model"))
    check_messages(body.get("messages"))
    check_number(body, "temperature", 0, 2)
    check_count(body, "max_tokens")
    stream = check_stream(body)
    options = body.get("stream_options")
    if options is not None and not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", "stream_options")
    body.setdefault("temperature", DEFAULT_TEMPERATURE)
    return ChatRequest(body=body, stream=stream,
                       wants_usage=bool(options and options.get("include_usage") is True),
                       body_bytes=len(raw))


def json_object(raw):
    """The body as a dict without its null fields; text that UTF-8 cannot carry (a lone
    surrogate escape) or nesting too deep to parse is refused like any invalid JSON."""
    try:
        body = json.loads(raw)
        if isinstance(body, dict) and b"\\u" in raw:
            json.dumps(body, ensure_ascii=False).encode()
    except (UnicodeError, json.JSONDecodeError, RecursionError):
        raise bad_request("The request body is not valid JSON in UTF-8.") from None
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.")
    return {name: value for name, value in body.items() if value is not None}


def check_model(model):
    """A non-empty name without NUL, which no model has and PostgreSQL cannot look up."""
    if model is None:
        raise bad_request("'model' is required.", "model")
    if not isinstance(model, str) or not model.strip() or "\x00" in model:
        raise bad_request("'model' must be a non-empty string without NUL characters.", "model")


def check_messages(messages):
    if messages is None:
        raise bad_request("'messages' is required.", "messages")
    if not isinstance(messages, list) or not messages:
        raise bad_request("'messages' must be a non-empty array.", "messages")
    if len(messages) > MAX_MESSAGES:
        raise bad_request(f"'messages' may hold at most {MAX_MESSAGES} messages.", "messages")
    for index, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("role"), str):
            raise bad_request(f"messages[{index}] must be an object with a string 'role'.",
                              "messages")
        content = message.get("content")
        if content is not None and not isinstance(content, (str, list)):
            raise bad_request(f"messages[{index}].content must be a string or an array.",
                              "messages")


def check_number(body, name, low, high):
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise bad_request(f"'{name}' must be a number from {low} to {high}.", name)


def check_count(body, name):
    """A whole number from 1, or absent; 5.0 is the integer 5 in JSON (and in /openapi.json), and
    goes on as 5."""
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, float) and value.is_integer():
        value = body[name] = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise bad_request(f"'{name}' must be an integer of at least 1.", name)


def check_stream(body):
    """The body's `stream`: false unless it says true."""
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise bad_request("'stream' must be true or false.", "stream")
    return stream
