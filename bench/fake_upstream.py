"""A fast fake DeepSeek-compatible upstream, which also speaks Anthropic's Messages API:
`python bench/fake_upstream.py PORT`.

Raw asyncio HTTP/1.1 with keep-alive (stdlib only). Answers POST */chat/completions; a streaming
request gets N `chat.completion.chunk` events, each its own HTTP chunk, `interval` seconds apart,
from the body field `"fake": {"chunks": 50, "interval": 0.02}`, else the same JSON in an `X-Fake`
header (for proxies that drop unknown body fields); defaults: 50 chunks, no delay. POST
*/v1/messages answers the same way in Anthropic's events, its shape read from a first message
whose text is `{"fake": {…}}` (a translation passes only the messages on).
"""
import asyncio
import functools
import json
import sys
import time

USAGE = {"prompt_tokens": 12, "completion_tokens": 50, "total_tokens": 62,
         "prompt_cache_hit_tokens": 0, "prompt_cache_miss_tokens": 12}


def compact(value):
    return json.dumps(value, separators=(",", ":")).encode()


@functools.lru_cache(maxsize=64)
def completion(model):
    message = {"role": "assistant", "content": "Hello from the fake."}
    return compact({"id": "fake-1", "object": "chat.completion", "created": int(time.time()),
                    "model": model, "usage": USAGE,
                    "choices": [{"index": 0, "message": message, "logprobs": None,
                                 "finish_reason": "stop"}]})


@functools.lru_cache(maxsize=64)
def chunk_events(model, count):
    """DeepSeek-style: `"usage":null` on every chunk but the last, which has finish_reason and
    usage; then `[DONE]`. Each event framed as one HTTP chunk; the last item ends the body."""
    def chunk(delta, finish=None, usage=None):
        return {"id": "fake-1", "object": "chat.completion.chunk", "created": int(time.time()),
                "model": model, "system_fingerprint": "fp_fake", "usage": usage,
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}
    usage = {**USAGE, "completion_tokens": count, "total_tokens": USAGE["prompt_tokens"] + count}
    chunks = [chunk({"role": "assistant", "content": ""})]
    chunks += [chunk({"content": f"tok{i} "}) for i in range(1, count - 1)]
    chunks.append(chunk({"content": ""}, "stop", usage))
    events = [b"data: " + compact(c) + b"\n\n" for c in chunks] + [b"data: [DONE]\n\n"]
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]


@functools.lru_cache(maxsize=64)
def message(model):
    return compact({"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                    "content": [{"type": "text", "text": "Hello from the fake."}],
                    "stop_reason": "end_turn", "stop_sequence": None,
                    "usage": {"input_tokens": 12, "output_tokens": 50}})


@functools.lru_cache(maxsize=64)
def message_events(model, count):
    """Anthropic's stream: message_start, one text block of `count` deltas, message_delta with
    the output tokens, message_stop; each event one HTTP chunk, the last item ending the body."""
    def event(name, data):
        return b"event: %s\ndata: %s\n\n" % (name.encode(), compact({"type": name, **data}))
    start = {"message": {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
                         "content": [], "stop_reason": None, "stop_sequence": None,
                         "usage": {"input_tokens": 12, "output_tokens": 1}}}
    events = [event("message_start", start),
              event("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})]
    events += [event("content_block_delta", {"index": 0, "delta": {"type": "text_delta",
                                                                   "text": f"tok{i} "}})
               for i in range(1, count - 1)]
    events += [event("content_block_stop", {"index": 0}),
               event("message_delta", {"delta": {"stop_reason": "end_turn", "stop_sequence": None},
                                       "usage": {"output_tokens": count}}),
               event("message_stop", {})]
    return [b"%x\r\n%s\r\n" % (len(e), e) for e in events] + [b"0\r\n\r\n"]


def anthropic_fake(request):
    try:
        return json.loads(request["messages"][0]["content"]).get("fake") or {}
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        return {}


class Upstream(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport, self.buffer, self.busy, self.keep_alive = transport, b"", False, True

    def data_received(self, data):
        self.buffer += data
        if not self.busy:
            self.serve_buffered()

    def serve_buffered(self):
        """Answer each complete request in the buffer, one at a time (a stream may be running)."""
        while not self.busy:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            request_line, *header_lines = self.buffer[:end].decode("latin-1").split("\r\n")
            headers = dict(line.lower().split(":", 1) for line in header_lines if ":" in line)
            body_end = end + 4 + int(headers.get("content-length", 0))
            if len(self.buffer) < body_end:
                return
            body, self.buffer = self.buffer[end + 4:body_end], self.buffer[body_end:]
            self.keep_alive = headers.get("connection", "").strip() != "close"
            self.answer(request_line.split(" "), headers, body)

    def answer(self, request_line, headers, body):
        anthropic = request_line[1].endswith("/v1/messages")
        if request_line[0] != "POST" or not (anthropic or request_line[1].endswith("/chat/completions")):
            return self.send(b"404 Not Found", b"text/plain", b"not found")
        try:
            request = json.loads(body)
        except ValueError:
            return self.send(b"400 Bad Request", b"text/plain", b"bad json")
        model = request.get("model", "deepseek-flash")
        if not request.get("stream"):
            return self.send(b"200 OK", b"application/json", (message if anthropic else completion)(model))
        if anthropic:
            fake = anthropic_fake(request)
            events = message_events(model, max(3, int(fake.get("chunks", 50))))
        else:
            fake = request.get("fake") or json.loads(headers.get("x-fake") or "{}")
            events = chunk_events(model, max(2, int(fake.get("chunks", 50))))
        self.transport.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                             b"Cache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n\r\n")
        interval = float(fake.get("interval", 0))
        if interval <= 0:
            self.transport.writelines(events)
            return self.done()
        self.busy = True
        asyncio.ensure_future(self.trickle(events, interval))

    async def trickle(self, events, interval):
        for i, event in enumerate(events):
            if self.transport.is_closing():
                return
            if 0 < i < len(events) - 2:  # [DONE] and the end follow the last chunk at once
                await asyncio.sleep(interval)
            self.transport.write(event)
        self.busy = False
        self.done()
        self.serve_buffered()

    def send(self, status, content_type, body):
        self.transport.write(b"HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n%s"
                             % (status, content_type, len(body), body))
        self.done()

    def done(self):
        if not self.keep_alive:
            self.transport.close()


async def main(port):
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Upstream, "127.0.0.1", port, backlog=2048)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1])))
