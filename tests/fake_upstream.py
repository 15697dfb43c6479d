"""A fake OpenAI-style upstream for the tests: a real HTTP server process on a loopback port.

By default it speaks DeepSeek's wire format (docs/providers.md): `: keep-alive` comments, usage on
the last content chunk, `data: [DONE]`, OpenAI-shaped error bodies. It answers
`POST <any base path>/chat/completions` (and `/embeddings`), so every OpenAI-style vendor can be
pointed at it under its own base path. A request steers it with a `fake` object in its body,
which the gateway passes through like any unknown field:

    {"fake": {"chunks": 5, "interval": 0.01, "delay": 0, "status": 200, "retry_after": "3",
              "reset_after": null, "stall": 0, "keepalives": 0, "usage": {...} or null,
              "usage_chunk": false, "usage_in_choice": false, "text": "...", "piece": 1, "reasoning": "...",
              "error_body": <any JSON>, "record": false, "gate": false}}

The vendors' quirks: `usage_chunk` sends usage in a chunk of its own (`"choices": []`) when the
request asked for it (OpenAI, Qwen, Doubao); `usage_in_choice` puts the last chunk's usage inside
its choice (Moonshot); a request whose `stream_options` has `chunk_include_usage` gets the usage
so far on every chunk (Doubao); `reasoning` is thought aloud (`reasoning_content`) before the
answer; `error_body` is sent as the error body instead of OpenAI's envelope (with `status`), after
`keepalives` blank lines, like a whole answer.

Like a model, it calls the first of the request's `tools` (its required arguments set to "北京")
until the conversation holds a tool result, then answers "工具结果：" and that result; it thinks
aloud (`reasoning_content`) first when asked with DeepSeek's `"thinking": {"type": "enabled"}`
(or when `fake.reasoning` says what to think).
Usage counts one completion token per streamed delta. POST /v1/embeddings answers one small
vector per input, as floats or base64 as `encoding_format` asks, with a token per character.

`reset_after` -1 ends a stream before its first event. POST /_behave {…} sets what every request
gets unless its own `fake` says otherwise, so that several fake upstreams can behave differently
for the same request; with "gate": true, requests wait until the next /_behave without it.
Each delta is `piece` characters of `text`. GET /_stats reports what it saw (`record` keeps the bytes of each stream it sent); POST /_reset
forgets it and the behaviour. Run: python fake_upstream.py API_KEY (prints the port it listens on).
"""
import base64
import json
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

DEFAULT_TEXT = "你好，世界！Hello 🌍"
THOUGHT = "嗯，想一想。"
TOOL_CALL_ID = "call_fake_1"


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        self.requests = 0
        self.bodies = []
        self.paths = []
        self.authorizations = []
        self.streams = []
        self.open_streams = 0
        self.closed_by_client = 0
        self.completed_streams = 0
        self.events_sent = 0

    def add(self, **changes):
        with self.lock:
            for name, delta in changes.items():
                setattr(self, name, getattr(self, name) + delta)

    def as_dict(self):
        with self.lock:
            return {name: getattr(self, name) for name in (
                "requests", "bodies", "paths", "authorizations", "streams", "open_streams",
                "closed_by_client", "completed_streams", "events_sent")}


STATS = Stats()
BEHAVIOUR = {}
GATE = threading.Event()
GATE.set()


def behave(defaults):
    BEHAVIOUR.clear()
    BEHAVIOUR.update(defaults)
    GATE.clear() if defaults.get("gate") else GATE.set()


def usage_so_far(usage, done, total):
    """Doubao's cumulative usage after `done` of `total` chunks: the whole prompt, a share of the
    completion."""
    completion = usage["completion_tokens"] * done // total
    return {**usage, "completion_tokens": completion,
            "total_tokens": usage["prompt_tokens"] + completion}


def default_usage(fake, completion_tokens):
    return fake.get("usage", {"prompt_tokens": 12, "completion_tokens": completion_tokens,
                              "total_tokens": 12 + completion_tokens,
                              "prompt_cache_hit_tokens": 4, "prompt_cache_miss_tokens": 8})


class Handler(BaseHTTPRequestHandler):
    """The HTTP plumbing (the stats' routes, JSON answers, chunked streams) and the OpenAI style."""
    protocol_version = "HTTP/1.1"
    api_key = ""
    stats = STATS
    sent = None  # the bytes of the stream being sent, when asked to record them

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/_stats":
            self.send_json(200, self.stats.as_dict())
        else:
            self.not_found()

    def reset_stats(self):
        with self.stats.lock:
            self.stats.reset()
        self.send_json(200, {})

    def not_found(self):
        self.send_json(404, {"error": {"message": f"no route {self.path}"}})

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/_reset":
            behave({})
            return self.reset_stats()
        if self.path == "/_behave":
            behave(body)
            return self.send_json(200, {})
        if not self.path.endswith(("/chat/completions", "/embeddings")):
            return self.not_found()
        with STATS.lock:
            STATS.requests += 1
            STATS.bodies.append(body)
            STATS.paths.append(self.path)
            STATS.authorizations.append(self.headers.get("Authorization"))
        fake = {**BEHAVIOUR, **(body.get("fake") or {})}
        if fake.get("gate"):
            GATE.wait(60)
        time.sleep(fake.get("delay", 0))
        if self.headers.get("Authorization") != f"Bearer {self.api_key}":
            return self.send_json(401, {"error": {
                "message": "Authentication Fails, Your api key: ****abcd is invalid",
                "type": "authentication_error", "param": None, "code": "invalid_request_error"}})
        status = fake.get("status", 200)
        if status != 200:
            headers = {"Retry-After": fake["retry_after"]} if "retry_after" in fake else {}
            error = fake.get("error_body", {"error": {
                "message": fake.get("message", f"fake upstream error {status}"),
                "type": "invalid_request_error", "param": None,
                "code": fake.get("code", "invalid_request_error")}})
            return self.send_json(status, error, headers, padding=fake.get("keepalives", 0))
        if self.path.endswith("/embeddings"):
            return self.embed(body, fake)
        if body.get("stream"):
            return self.stream(body, fake)
        self.complete(body, fake)

    def complete(self, body, fake):
        deltas = self.deltas(body, fake)
        message = {"role": "assistant", "content": "".join(d.get("content", "") for d in deltas)}
        thought = "".join(d.get("reasoning_content", "") for d in deltas)
        if thought:
            message["reasoning_content"] = thought
        call = self.tool_call(body)
        if call:
            message.update(content=None, tool_calls=[{"id": TOOL_CALL_ID, "type": "function",
                                                      "function": call}])
        answer = {"id": "fake-1", "object": "chat.completion", "created": int(time.time()),
                  "model": body.get("model"), "choices": [{
                      "index": 0, "finish_reason": "tool_calls" if call else "stop", "logprobs": None,
                      "message": message}],
                  "usage": default_usage(fake, len(deltas)), "system_fingerprint": "fp_fake"}
        if fake.get("usage", "") is None:
            answer.pop("usage")
        payload = b"\n\n" * fake.get("keepalives", 0) + json.dumps(answer, ensure_ascii=False).encode()
        if fake.get("malformed"):
            payload = b"<html>oops</html>"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def stream(self, body, fake):
        deltas = self.deltas(body, fake)
        self.sent = [] if fake.get("record") else None
        try:
            self.send_stream(lambda: self.events(body, fake, deltas))
        finally:
            if self.sent is not None:
                with STATS.lock:
                    STATS.streams.append(b"".join(self.sent).decode())

    def send_stream(self, write_events, content_type="text/event-stream"):
        """A chunked answer whose events `write_events()` sends; the stats count how it ended."""
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        self.stats.add(open_streams=1)
        try:
            write_events()
            self.chunk(b"")
            self.stats.add(completed_streams=1)
        except (BrokenPipeError, ConnectionResetError):
            self.stats.add(closed_by_client=1)
        finally:
            self.stats.add(open_streams=-1)

    def events(self, body, fake, deltas):
        for _ in range(fake.get("keepalives", 0)):
            self.chunk(b": keep-alive\n\n")
        usage = default_usage(fake, len(deltas))
        finish = "tool_calls" if self.tool_call(body) else "stop"
        options = body.get("stream_options") or {}
        separate = fake.get("usage_chunk") and options.get("include_usage")
        base = {"id": "fake-1", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": body.get("model")}
        if fake.get("reset_after") == -1:
            self.connection.shutdown(2)  # an end before the first event
            raise ConnectionResetError
        self.event({**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""},
                                         "logprobs": None, "finish_reason": None}], "usage": None})
        for index, delta in enumerate(deltas):
            if fake.get("reset_after") == index:
                self.connection.shutdown(2)  # an abrupt end, mid-stream
                raise ConnectionResetError
            if index == len(deltas) // 2:
                time.sleep(fake.get("stall", 0))
            time.sleep(fake.get("interval", 0))
            last = index == len(deltas) - 1
            choice = {"index": 0, "delta": delta, "logprobs": None,
                      "finish_reason": finish if last else None}
            chunk_usage = usage if last and not separate else None
            if options.get("chunk_include_usage"):
                chunk_usage = usage_so_far(usage, index + 1, len(deltas))
            if chunk_usage and fake.get("usage_in_choice"):
                self.event({**base, "choices": [{**choice, "usage": chunk_usage}]})
            else:
                self.event({**base, "choices": [choice], "usage": chunk_usage})
        if separate:
            self.event({**base, "choices": [], "usage": usage})
        self.chunk(b"data: [DONE]\n\n")

    def deltas(self, body, fake):
        """What the model says, one chunk delta each: its thoughts, then a tool call (in three
        argument fragments) or its text."""
        thought = THOUGHT if body.get("thinking") == {"type": "enabled"} else ""
        thoughts = [{"reasoning_content": c} for c in fake.get("reasoning", thought)]
        call = self.tool_call(body)
        if call:
            arguments, third = call["arguments"], len(call["arguments"]) // 3 + 1
            return thoughts + [{"tool_calls": [{"index": 0, "id": TOOL_CALL_ID, "type": "function",
                                                "function": {"name": call["name"], "arguments": ""}}]}] + [
                {"tool_calls": [{"index": 0, "function": {"arguments": arguments[i:i + third]}}]}
                for i in range(0, len(arguments), third)]
        return thoughts + [{"content": piece} for piece in self.pieces(body, fake)]

    def tool_call(self, body):
        """The call of the first tool, while the conversation has no tool result yet."""
        messages = body.get("messages") or [{}]
        tools = body.get("tools") or []
        if not tools or messages[-1].get("role") == "tool" or body.get("tool_choice") == "none":
            return None
        function = tools[0]["function"]
        required = (function.get("parameters") or {}).get("required") or []
        return {"name": function["name"],
                "arguments": json.dumps({name: "北京" for name in required}, ensure_ascii=False)}

    def pieces(self, body, fake):
        last = (body.get("messages") or [{}])[-1]
        text = "工具结果：" + str(last.get("content")) if last.get("role") == "tool" else \
            fake.get("text", DEFAULT_TEXT)
        count, size = fake.get("chunks", len(text)), fake.get("piece", 1)
        repeated = text * (size // len(text) + 2)
        return [repeated[i % len(text):][:size] for i in range(count)]

    def embed(self, body, fake):
        inputs = body["input"]
        if isinstance(inputs, str) or isinstance(inputs[0], int):
            inputs = [inputs]
        data = []
        for index, _ in enumerate(inputs):
            vector = [(index + 1) / 8, -0.5, 0.25][:body.get("dimensions", 3)]
            if body.get("encoding_format") == "base64":
                vector = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
            data.append({"object": "embedding", "index": index, "embedding": vector})
        tokens = sum(len(item) for item in inputs)
        self.send_json(200, {"object": "list", "data": data, "model": body.get("model"), "usage": fake.get(
            "usage", {"prompt_tokens": tokens, "total_tokens": tokens})})

    def event(self, data):
        self.chunk(b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n")
        self.stats.add(events_sent=1)

    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
        if self.sent is not None:
            self.sent.append(data)

    def send_json(self, status, data, headers=None, padding=0):
        payload = b"\n\n" * padding + json.dumps(data, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)


def main(handler=Handler):
    handler.api_key = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    server.request_queue_size = 1024
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
