"""A fake Anthropic Messages API for the tests: a real HTTP server process on a loopback port.

It speaks the 2023-06-01 Messages API as docs/providers.md describes it: `x-api-key` (or a bearer
token, as newer SDKs send), the `anthropic-version` header, a Message answer, a stream of `event:`
and `data:` lines (message_start, content_block_start, ping, content_block_delta…,
content_block_stop, message_delta, message_stop) and `{"type": "error", "error": {…}}` bodies. It
checks a request as strictly as the service: unknown top-level fields, system messages inside
`messages`, a temperature above 1, empty text blocks and tool results without their tool call are
400s. `max_tokens` and `stop_sequences` cut the text as they would. It serves the gateway's
translation of chat (the `anthropic` provider) and its native relay of /v1/messages alike.

Like a model, and like fake_upstream.py's, it calls the first of the request's `tools` (its
required arguments set to "北京") until the last turn holds a tool result, then answers
"工具结果：" and that result; otherwise it says DEFAULT_TEXT. A request steers it with a script: a
user text block holding a JSON object with a `fake` key (the gateway's translation drops unknown
fields, but never a message's text):

    {"fake": {"reply": [{"type": "thinking", "thinking": "…"}, {"type": "text", "text": "…"},
                        {"type": "tool_use", "name": "…", "input": {…}}],
              "usage": {"input_tokens": 12, "cache_read_input_tokens": 0,
                        "cache_creation_input_tokens": 0},
              "status": 529, "error_type": "overloaded_error", "message": "…", "retry_after": "7",
              "fail_after": 2, "interval": 0, "piece": 1}}

`reply` replaces what it would say; `output_tokens` is the number of deltas. `status` answers with
an error; `fail_after` N sends `event: error` after N deltas of a stream and closes it. `piece` is
the characters per text delta (tool input JSON goes 5 characters per delta).

GET /_stats reports what it saw (the bodies, and the headers each request came with); POST
/_reset forgets it. Run: python fake_anthropic.py API_KEY (prints the port it listens on).
"""
import json
import time
import uuid

import fake_upstream

DEFAULT_TEXT = "你好，世界！Hello 🌍"
FIELDS = {"model", "messages", "max_tokens", "system", "metadata", "stop_sequences", "stream",
          "temperature", "top_p", "top_k", "tools", "tool_choice", "thinking", "service_tier"}
ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 402: "billing_error",
               403: "permission_error", 404: "not_found_error", 413: "request_too_large",
               429: "rate_limit_error", 500: "api_error", 529: "overloaded_error"}
TOOL_INPUT_PIECE = 5


class Stats(fake_upstream.Stats):
    """fake_upstream's counts, and the headers each request came with."""

    def reset(self):
        super().reset()
        self.headers = []

    def as_dict(self):
        with self.lock:
            headers = list(self.headers)
        return {**super().as_dict(), "headers": headers}


STATS = Stats()


class Refusal(Exception):
    """An error answer: HTTP status, error type, message."""

    def __init__(self, status, message, kind=None):
        super().__init__(message)
        self.status, self.message = status, message
        self.kind = kind or ERROR_TYPES.get(status, "api_error")


class Handler(fake_upstream.Handler):
    """fake_upstream's HTTP plumbing (stats, JSON answers, chunked streams), Anthropic's wire
    format."""
    stats = STATS

    def not_found(self):
        self.send_error_body(Refusal(404, f"Not found: {self.path}"))

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if self.path == "/_reset":
            return self.reset_stats()
        try:
            body = self.admit(raw)
            script = find_script(body)
            time.sleep(script.get("delay", 0))
            if script.get("status"):
                raise Refusal(script["status"], script.get("message", "fake error"),
                              script.get("error_type"))
            reply = Reply(body, script)
        except Refusal as refusal:
            return self.send_error_body(refusal, (self.script_of(raw) or {}).get("retry_after"))
        if body.get("stream"):
            return self.stream(reply, script)
        self.send_json(200, reply.message())

    def admit(self, raw):
        """The request body, checked as the Messages API checks it, and recorded."""
        if self.path != "/v1/messages":
            raise Refusal(404, f"Not found: {self.path}")
        with STATS.lock:
            STATS.requests += 1
            STATS.headers.append({name: self.headers.get(name) for name in (
                "x-api-key", "anthropic-version", "anthropic-beta", "authorization", "content-type")})
        if self.api_key not in (self.headers.get("x-api-key"),
                                (self.headers.get("authorization") or "").removeprefix("Bearer ")):
            raise Refusal(401, "invalid x-api-key")
        if not self.headers.get("anthropic-version"):
            raise Refusal(400, "anthropic-version: header is required")
        try:
            body = json.loads(raw)
        except ValueError:
            raise Refusal(400, "There was an issue with the request body: not valid JSON") from None
        with STATS.lock:
            STATS.bodies.append(body)
        try:
            check_body(body)
        except (KeyError, TypeError, AttributeError):
            raise Refusal(400, "messages: Input should be a valid list of messages") from None
        return body

    def script_of(self, raw):
        try:
            return find_script(json.loads(raw))
        except (ValueError, AttributeError, TypeError):
            return None

    def stream(self, reply, script):
        def write_events():
            for name, data in reply.events(script.get("fail_after")):
                time.sleep(script.get("interval", 0) if name == "content_block_delta" else 0)
                self.chunk(f"event: {name}\ndata: ".encode() + dumps(data) + b"\n\n")

        self.send_stream(write_events, "text/event-stream; charset=utf-8")

    def send_error_body(self, refusal, retry_after=None):
        headers = {"request-id": "req_" + uuid.uuid4().hex[:24]}
        if retry_after:
            headers["retry-after"] = retry_after
        self.send_json(refusal.status, {"type": "error", "error": {
            "type": refusal.kind, "message": refusal.message},
            "request_id": headers["request-id"]}, headers)


def check_body(body):
    """400 for what the Messages API refuses and a careless translation would send."""
    if not isinstance(body, dict):
        raise Refusal(400, "The request body must be a JSON object")
    for name in sorted(set(body) - FIELDS):
        raise Refusal(400, f"{name}: Extra inputs are not permitted")
    for name in ("model", "messages", "max_tokens"):
        if name not in body:
            raise Refusal(400, f"{name}: Field required")
    if not body["messages"]:
        raise Refusal(400, "messages: at least one message is required")
    if not isinstance(body["max_tokens"], int) or body["max_tokens"] < 1:
        raise Refusal(400, "max_tokens: Input should be a valid integer greater than 0")
    if not 0 <= body.get("temperature", 1) <= 1:
        raise Refusal(400, "temperature: Input should be less than or equal to 1")
    previous = None
    for index, turn in enumerate(body["messages"]):
        if turn.get("role") not in ("user", "assistant"):
            raise Refusal(400, f"messages.{index}.role: Input should be 'user' or 'assistant'")
        blocks = turn["content"] if isinstance(turn["content"], list) else [
            {"type": "text", "text": turn["content"]}]
        if any(block.get("type") == "text" and not block.get("text") for block in blocks):
            raise Refusal(400, "messages: text content blocks must be non-empty")
        check_tool_results(index, blocks, previous)
        previous = blocks if turn["role"] == "assistant" else None


def check_tool_results(index, blocks, previous):
    called = {block.get("id") for block in previous or () if block.get("type") == "tool_use"}
    for block in blocks:
        if block.get("type") == "tool_result" and block.get("tool_use_id") not in called:
            raise Refusal(400, f"messages.{index}.content: unexpected `tool_use_id` found in "
                               f"`tool_result` blocks: {block.get('tool_use_id')}. Each `tool_result` "
                               "block must have a corresponding `tool_use` block in the previous message.")


def find_script(body):
    """The `fake` object of the last user text block that holds one, else {}."""
    script = {}
    for turn in body.get("messages") or ():
        content = turn.get("content")
        for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            text = block.get("text") if block.get("type") == "text" else None
            if isinstance(text, str) and text.startswith('{"fake"'):
                script = json.loads(text)["fake"]
    return script


class Reply:
    """The answer to one request: its content blocks cut into deltas, its stop reason and usage."""

    def __init__(self, body, script):
        self.model = body["model"]
        self.id = "msg_" + uuid.uuid4().hex[:24]
        self.counts = {"input_tokens": 12, "cache_creation_input_tokens": 0,
                       "cache_read_input_tokens": 0, **script.get("usage", {})}
        self.error = (script.get("error_type", "overloaded_error"), script.get("message", "Overloaded"))
        blocks = script.get("reply") or default_reply(body)
        self.stop_reason = "tool_use" if any(b["type"] == "tool_use" for b in blocks) else "end_turn"
        self.stop_sequence = None
        self.blocks = [self.cut(block, body, script.get("piece", 1)) for block in blocks]
        self.output_tokens = sum(len(pieces) for _, pieces in self.blocks)

    def cut(self, block, body, piece):
        """(block, its deltas), the text stopped by `stop_sequences` or `max_tokens`."""
        if block["type"] == "tool_use":
            block = {"id": "toolu_" + uuid.uuid4().hex[:24], **block}
            arguments = json.dumps(block["input"], ensure_ascii=False)
            return block, split(arguments, TOOL_INPUT_PIECE)
        key = "thinking" if block["type"] == "thinking" else "text"
        text = block[key]
        for stop in body.get("stop_sequences") or ():
            if key == "text" and stop in text:
                text, self.stop_reason, self.stop_sequence = text[:text.index(stop)], "stop_sequence", stop
        pieces = split(text, piece)
        if len(pieces) > body["max_tokens"]:
            pieces, self.stop_reason = pieces[:body["max_tokens"]], "max_tokens"
        return {**block, key: "".join(pieces)}, pieces

    def usage(self, output_tokens):
        return {**self.counts, "output_tokens": output_tokens}

    def message(self):
        content = [{**block, "signature": "c2lnbmVk"} if block["type"] == "thinking" else block
                   for block, _ in self.blocks]
        return {"id": self.id, "type": "message", "role": "assistant", "model": self.model,
                "content": content, "stop_reason": self.stop_reason,
                "stop_sequence": self.stop_sequence, "usage": self.usage(self.output_tokens)}

    def events(self, fail_after=None):
        """(event name, data) of the stream, in the service's order."""
        yield "message_start", {"type": "message_start", "message": {
            **self.message(), "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": self.usage(1)}}
        sent = 0
        for index, (block, pieces) in enumerate(self.blocks):
            yield "content_block_start", {"type": "content_block_start", "index": index,
                                          "content_block": empty(block)}
            if index == 0:
                yield "ping", {"type": "ping"}
            for piece in pieces:
                if sent == fail_after:
                    yield "error", {"type": "error", "error": {"type": self.error[0],
                                                               "message": self.error[1]}}
                    return
                sent += 1
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": delta(block, piece)}
            if block["type"] == "thinking":
                yield "content_block_delta", {"type": "content_block_delta", "index": index,
                                              "delta": {"type": "signature_delta", "signature": "c2lnbmVk"}}
            yield "content_block_stop", {"type": "content_block_stop", "index": index}
        yield "message_delta", {"type": "message_delta", "delta": {
            "stop_reason": self.stop_reason, "stop_sequence": self.stop_sequence},
            "usage": {"output_tokens": self.output_tokens}}
        yield "message_stop", {"type": "message_stop"}


def default_reply(body):
    """What the fake says unscripted: a call of the first tool, the tool's result, or DEFAULT_TEXT."""
    last = body["messages"][-1]["content"]
    results = [b for b in last if b.get("type") == "tool_result"] if isinstance(last, list) else []
    if results:
        return [{"type": "text", "text": "工具结果：" + result_text(results[-1].get("content"))}]
    tools = body.get("tools") or []
    if tools and (body.get("tool_choice") or {}).get("type") != "none":
        required = (tools[0].get("input_schema") or {}).get("required") or []
        return [{"type": "tool_use", "name": tools[0]["name"],
                 "input": {name: "北京" for name in required}}]
    return [{"type": "text", "text": DEFAULT_TEXT}]


def result_text(content):
    if isinstance(content, list):
        return "".join(block.get("text", "") for block in content if block.get("type") == "text")
    return content or ""


def empty(block):
    """A block as content_block_start announces it, before its deltas."""
    if block["type"] == "tool_use":
        return {**block, "input": {}}
    if block["type"] == "thinking":
        return {"type": "thinking", "thinking": "", "signature": ""}
    return {"type": "text", "text": ""}


def delta(block, piece):
    if block["type"] == "tool_use":
        return {"type": "input_json_delta", "partial_json": piece}
    if block["type"] == "thinking":
        return {"type": "thinking_delta", "thinking": piece}
    return {"type": "text_delta", "text": piece}


def split(text, size):
    return [text[i:i + size] for i in range(0, len(text), size)]


def dumps(data):
    return json.dumps(data, ensure_ascii=False).encode()


if __name__ == "__main__":
    fake_upstream.main(Handler)
