"""A fake Anthropic Messages upstream for the tests, a real HTTP server process on a loopback port:
POST /v1/messages with `x-api-key`, whole messages or named SSE events (`message_start`, a `ping`,
content blocks, `message_delta` with cumulative usage, `message_stop`), Anthropic's error bodies.

It behaves like fake_upstream.py (whose stats, steering `fake` object and scripted model it
shares): usage is 8 fresh input tokens and 4 read from the cache (12 in all, as there), and one
output token per streamed delta. Run: python fake_anthropic_messages.py API_KEY.
"""
import json
import time

import fake_upstream
from fake_upstream import STATS

ERROR_TYPES = {400: "invalid_request_error", 401: "authentication_error", 429: "rate_limit_error",
               529: "overloaded_error"}


class Handler(fake_upstream.Handler):

    def do_POST(self):
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
        if self.path == "/_reset":
            with STATS.lock:
                STATS.reset()
            return self.send_json(200, {})
        with STATS.lock:
            STATS.requests += 1
            STATS.bodies.append(body)
            STATS.authorizations.append(self.headers.get("x-api-key"))
            STATS.versions.append(self.headers.get("anthropic-version"))
        fake = body.get("fake") or {}
        if self.path != "/v1/messages":
            return self.error(404, "not found")
        if self.headers.get("x-api-key") != self.api_key:
            return self.error(401, "invalid x-api-key")
        if fake.get("status", 200) != 200:
            return self.error(fake["status"], fake.get("message", "fake upstream error"))
        blocks = self.blocks(self.chat_view(body), fake)
        if body.get("stream"):
            return self.stream_message(body, fake, blocks)
        self.send_json(200, self.message(body, fake, [self.whole(block) for block in blocks],
                                         sum(len(deltas) for _, deltas in blocks)))

    def chat_view(self, body):
        """The request as the shared scripted model reads it (chat messages and tools)."""
        last = body["messages"][-1]
        results = [b for b in last.get("content") or [] if isinstance(b, dict) and b.get("type") == "tool_result"]
        messages = [{"role": "tool", "content": results[-1]["content"]}] if results else [last]
        tools = [{"function": {"name": t["name"], "parameters": t.get("input_schema")}}
                 for t in body.get("tools") or []]
        return {"messages": messages, "tools": tools}

    def blocks(self, chat, fake):
        """(content block, its deltas) as the scripted model says them."""
        call = self.tool_call(chat)
        if call:
            arguments, third = call["arguments"], len(call["arguments"]) // 3 + 1
            return [({"type": "tool_use", "id": "toolu_fake_1", "name": call["name"], "input": {}},
                     [{"type": "input_json_delta", "partial_json": arguments[i:i + third]}
                      for i in range(0, len(arguments), third)])]
        return [({"type": "text", "text": ""},
                 [{"type": "text_delta", "text": piece} for piece in self.pieces(chat, fake)])]

    def whole(self, block):
        start, deltas = block
        if start["type"] == "tool_use":
            return {**start, "input": json.loads("".join(d["partial_json"] for d in deltas))}
        return {**start, "text": "".join(d["text"] for d in deltas)}

    def message(self, body, fake, content, output_tokens):
        stop = "tool_use" if any(b["type"] == "tool_use" for b in content) else "end_turn"
        return {"id": "msg_fake_1", "type": "message", "role": "assistant", "model": body.get("model"),
                "content": content, "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": 8, "cache_creation_input_tokens": 0,
                          "cache_read_input_tokens": 4, "output_tokens": output_tokens}}

    def stream_message(self, body, fake, blocks):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        start = {**self.message(body, fake, [], 1), "stop_reason": None}
        self.named("message_start", {"type": "message_start", "message": start})
        self.named("ping", {"type": "ping"})
        count = 0
        for index, (block, deltas) in enumerate(blocks):
            self.named("content_block_start", {"type": "content_block_start", "index": index,
                                               "content_block": block})
            for delta in deltas:
                time.sleep(fake.get("interval", 0))
                count += 1
                self.named("content_block_delta", {"type": "content_block_delta", "index": index,
                                                   "delta": delta})
            self.named("content_block_stop", {"type": "content_block_stop", "index": index})
        if fake.get("fail_part_way"):
            self.named("error", {"type": "error", "error": {"type": "overloaded_error",
                                                            "message": "Overloaded"}})
            return self.chunk(b"")
        stop = "tool_use" if blocks[0][0]["type"] == "tool_use" else "end_turn"
        self.named("message_delta", {"type": "message_delta", "delta": {
            "stop_reason": stop, "stop_sequence": None}, "usage": {"output_tokens": count}})
        self.named("message_stop", {"type": "message_stop"})
        self.chunk(b"")

    def named(self, name, data):
        self.chunk(b"event: %s\ndata: %s\n\n" % (name.encode(), json.dumps(data, ensure_ascii=False).encode()))

    def error(self, status, message):
        self.send_json(status, {"type": "error", "error": {
            "type": ERROR_TYPES.get(status, "api_error"), "message": message}, "request_id": "req_fake"})


if __name__ == "__main__":
    fake_upstream.main(Handler)
