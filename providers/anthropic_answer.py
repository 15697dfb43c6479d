"""Anthropic's answers in OpenAI's shape (docs/providers.md, "Anthropic"): a Message as a
`chat.completion`, Messages stream events as `chat.completion.chunk`s as they arrive (each event
parsed once), usage with cache reads and writes, and error answers through `upstream_error`."""
import json
import time
import uuid

from providers.anthropic_wire import UsageCounts, json_object, read_usage, stream_error
from providers.base import StreamEvent, malformed
from providers.sse import split_events

FINISH_REASONS = {"end_turn": "stop", "stop_sequence": "stop", "pause_turn": "stop",
                  "max_tokens": "length", "model_context_window_exceeded": "length",
                  "tool_use": "tool_calls", "refusal": "content_filter"}
DONE = b"data: [DONE]\n\n"


# --- a whole answer ------------------------------------------------------------------------------

def completion(provider, payload):
    """(OpenAI `chat.completion` bytes, Usage or None) from a Message."""
    message = json_object(payload.strip())
    if message is None or message.get("type") != "message" or not isinstance(message.get("content"), list):
        raise malformed(provider)
    text, reasoning, calls = [], [], []
    for block in message["content"]:
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "text":
            text.append(_string(block.get("text")))
        elif kind == "thinking":
            reasoning.append(_string(block.get("thinking")))
        elif kind == "tool_use":
            calls.append({"id": _string(block.get("id")), "type": "function", "function": {
                "name": _string(block.get("name")),
                "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
    reply = {"role": "assistant", "content": "".join(text) if text or not calls else None}
    if reasoning:
        reply["reasoning_content"] = "".join(reasoning)
    if calls:
        reply["tool_calls"] = calls
    usage = read_usage(message.get("usage"))
    answer = {"id": _completion_id(message.get("id")), "object": "chat.completion",
              "created": int(time.time()), "model": message.get("model"),
              "choices": [{"index": 0, "message": reply, "logprobs": None,
                           "finish_reason": finish_reason(message.get("stop_reason"))}]}
    if usage:
        answer["usage"] = openai_usage(usage)
    return _dumps(answer), usage


def finish_reason(stop_reason):
    return FINISH_REASONS.get(stop_reason, "stop")


def openai_usage(usage):
    return {"prompt_tokens": usage.prompt, "completion_tokens": usage.completion,
            "total_tokens": usage.total,
            "prompt_tokens_details": {"cached_tokens": usage.cached,
                                      "cache_write_tokens": usage.cache_write}}


# --- a stream ------------------------------------------------------------------------------------

def events(provider, chunks, wants_usage):
    """StreamEvents (OpenAI chunks) from a Messages event stream, one or none per event."""
    stream = ChunkStream(provider, wants_usage)
    for _, data in split_events(chunks):
        if data is not None:
            event = stream.translate(data)
            if event is not None:
                yield event


class ChunkStream:
    """One stream's translation. Every chunk of a stream shares its id, time and model, so their
    JSON is made once (`head`) and each chunk adds only its own delta."""

    def __init__(self, provider, wants_usage):
        self.provider, self.wants_usage = provider, wants_usage
        self.head = _chunk_head(None, None)
        self.usage = UsageCounts()
        self.tool_calls = {}   # content block index → OpenAI tool call index

    def translate(self, data):
        """The StreamEvent for one event's `data`, or None when it carries nothing to relay."""
        event = json_object(data)
        if event is None:
            raise malformed(self.provider)
        kind = event.get("type")
        if kind == "content_block_delta":
            return self._delta(event.get("index"), event.get("delta"))
        if kind == "content_block_start":
            return self._block_start(event.get("index"), event.get("content_block"))
        if kind == "message_start":
            return self._message_start(event.get("message"))
        if kind == "message_delta":
            return self._message_delta(event.get("delta"), event.get("usage"))
        if kind == "message_stop":
            return StreamEvent(DONE, done=True)
        if kind == "error":
            raise stream_error(self.provider, event)
        return None  # ping, content_block_stop, and event types newer than this translation

    def _message_start(self, message):
        if not isinstance(message, dict):
            raise malformed(self.provider)
        self.head = _chunk_head(message.get("id"), message.get("model"))
        self.usage.add(message.get("usage"))
        return StreamEvent(self._chunk({"role": "assistant", "content": ""}))

    def _block_start(self, index, block):
        kind = block.get("type") if isinstance(block, dict) else None
        if kind == "tool_use" and isinstance(index, int):
            call = self.tool_calls[index] = len(self.tool_calls)
            return self._content({"tool_calls": [{
                "index": call, "id": _string(block.get("id")), "type": "function",
                "function": {"name": _string(block.get("name")), "arguments": ""}}]})
        if kind == "text" and block.get("text"):
            return self._content({"content": _string(block["text"])})
        if kind == "thinking" and block.get("thinking"):
            return self._content({"reasoning_content": _string(block["thinking"])})
        return None

    def _delta(self, index, delta):
        kind = delta.get("type") if isinstance(delta, dict) else None
        if kind == "text_delta" and delta.get("text"):
            return self._content({"content": _string(delta["text"])})
        if kind == "thinking_delta" and delta.get("thinking"):
            return self._content({"reasoning_content": _string(delta["thinking"])})
        if kind == "input_json_delta" and delta.get("partial_json") \
                and isinstance(index, int) and index in self.tool_calls:
            return self._content({"tool_calls": [{
                "index": self.tool_calls[index],
                "function": {"arguments": _string(delta["partial_json"])}}]})
        return None  # signature and citation deltas have no OpenAI counterpart

    def _message_delta(self, delta, counts):
        """The finish reason, and the usage: message_start's counts, overwritten by the
        cumulative ones this event carries. A usage-only chunk follows when the caller asked."""
        usage = self.usage.add(counts)
        stop_reason = delta.get("stop_reason") if isinstance(delta, dict) else None
        raw = self._chunk({}, _dumps(finish_reason(stop_reason)))
        if usage and self.wants_usage:
            raw += (b"data: " + self.head + b'"choices":[],"usage":'
                    + _dumps(openai_usage(usage)) + b"}\n\n")
        return StreamEvent(raw, usage=usage)

    def _content(self, delta):
        return StreamEvent(self._chunk(delta), content=True)

    def _chunk(self, delta, finish=b"null"):
        return (b"data: " + self.head + b'"choices":[{"index":0,"delta":' + _dumps(delta)
                + b',"logprobs":null,"finish_reason":' + finish + b"}]}\n\n")


def _chunk_head(message_id, model):
    """The start of every chunk's JSON object, up to its `choices`."""
    head = {"id": _completion_id(message_id), "object": "chat.completion.chunk",
            "created": int(time.time()), "model": model}
    return _dumps(head)[:-1] + b","


# --- JSON ----------------------------------------------------------------------------------------

def _completion_id(message_id):
    """An OpenAI-looking id that still names Anthropic's message, for tracing."""
    if isinstance(message_id, str) and message_id:
        return "chatcmpl-" + message_id.removeprefix("msg_")
    return "chatcmpl-" + uuid.uuid4().hex


_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode  # made once: cheaper


def _dumps(value):
    return _encode(value).encode()


def _string(value):
    return value if isinstance(value, str) else ""
