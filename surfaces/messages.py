"""Anthropic's Messages API on providers that speak OpenAI's Chat Completions: a Messages request
as a chat request, and the chat answer and its chunks back as an Anthropic message and its events
(docs/surfaces.md). Pure functions of the payloads; the route is in surfaces/routes.py."""
import json
import re
import uuid

from chat_request import (ChatRequest, check_count, check_messages, check_model, check_number,
                          check_stream, json_object)
from errors import bad_request
from providers.anthropic_wire import usage_shape
from providers.sse import named_event
from surfaces.wire import ChunkTranslation, chat_answer, first_choice, joined, reasoning_text

STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use",
                "function_call": "tool_use", "content_filter": "refusal"}
TOOL_CHOICES = {"auto": "auto", "any": "required", "none": "none"}


def parse(raw):
    """A ChatRequest holding the Messages body as it came (Anthropic's and OpenAI's requests share
    `model`, `messages` and `max_tokens`), checked; translated only once the provider is known.
    `max_tokens` is a ceiling, lowered to the model's largest (its default, as in chat)."""
    body = json_object(raw)
    check_model(body.get("model"))
    check_messages(body.get("messages"))
    check_count(body, "max_tokens")
    check_number(body, "temperature", 0, 1)
    return ChatRequest(body=body, stream=check_stream(body), wants_usage=True, body_bytes=len(raw),
                       max_tokens_is_ceiling=True)


def chat_body(body, reasoning):
    """The chat request for a checked Messages `body` (model and max_tokens aimed); 400 naming
    what has no chat equivalent. `reasoning(enabled, budget)` is the provider's switch."""
    chat = {"model": body["model"], "max_tokens": body["max_tokens"],
            "messages": _system(body.get("system")) + _messages(body["messages"])}
    for name in ("temperature", "top_p", "stream"):
        if name in body:
            chat[name] = body[name]
    if "stop_sequences" in body:
        chat["stop"] = _strings(body["stop_sequences"], "stop_sequences")
    if body.get("tools"):
        chat["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(_list(body["tools"], "tools"))]
    if "tool_choice" in body:
        chat.update(_tool_choice(body["tool_choice"]))
    if "thinking" in body:
        chat.update(_thinking(body["thinking"], reasoning))
    return chat


def message(answer, usage, model):
    """The Anthropic message for a whole chat.completion (bytes)."""
    said = chat_answer(answer)
    content = []
    if said.reasoning:
        content.append({"type": "thinking", "thinking": said.reasoning, "signature": ""})
    if said.text:
        content.append({"type": "text", "text": said.text})
    for call in said.calls:
        content.append({"type": "tool_use", "id": call.id or _tool_id(), "name": call.name,
                        "input": _input(call.arguments)})
    return json.dumps({
        "id": _message_id(said.completion), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": STOP_REASONS.get(said.finish_reason, "end_turn"),
        "stop_sequence": None, "usage": usage_shape(usage)}, ensure_ascii=False).encode()


class MessageStream(ChunkTranslation):
    """One stream's chat chunks (`StreamEvent`s) as Anthropic events: `message_start`, a content
    block per kind in turn (thinking, text, each tool call with its `input_json_delta`s),
    `message_delta` with the stop reason and usage, `message_stop`."""

    def __init__(self, model):
        self.model = model
        self.block = None      # the open block: "thinking", "text" or ("tool", chat index)
        self.index = -1
        self.stop_reason = "end_turn"
        self.started = False

    def _translate(self, chunk):
        out = b"" if self.started else self._start(chunk)
        choice = first_choice(chunk)
        delta = choice.get("delta") or {}
        if reasoning_text(delta):
            out += self._open("thinking", {"type": "thinking", "thinking": "", "signature": ""})
            out += self._delta({"type": "thinking_delta", "thinking": reasoning_text(delta)})
        if delta.get("content"):
            out += self._open("text", {"type": "text", "text": ""})
            out += self._delta({"type": "text_delta", "text": delta["content"]})
        for call in delta.get("tool_calls") or []:
            out += self._tool_call(call)
        if choice.get("finish_reason"):
            self.stop_reason = STOP_REASONS.get(choice["finish_reason"], "end_turn")
            out += self._close()
        return out

    def _start(self, chunk):
        self.started = True
        return named_event("message_start", {"type": "message_start", "message": {
            "id": _message_id(chunk), "type": "message", "role": "assistant", "model": self.model,
            "content": [], "stop_reason": None, "stop_sequence": None,
            "usage": {"input_tokens": 0, "output_tokens": 0}}})

    def _tool_call(self, call):
        function = call.get("function") or {}
        out = b""
        block = ("tool", call.get("index", 0))
        if self.block != block:
            out += self._open(block, {"type": "tool_use", "id": call.get("id") or _tool_id(),
                                      "name": function.get("name") or "", "input": {}})
        if function.get("arguments"):
            out += self._delta({"type": "input_json_delta", "partial_json": function["arguments"]})
        return out

    def _open(self, block, start):
        if self.block == block:
            return b""
        out = self._close()
        self.block, self.index = block, self.index + 1
        return out + named_event("content_block_start", {"type": "content_block_start",
                                                    "index": self.index, "content_block": start})

    def _delta(self, delta):
        return named_event("content_block_delta", {"type": "content_block_delta", "index": self.index,
                                              "delta": delta})

    def _close(self):
        if self.block is None:
            return b""
        self.block = None
        return named_event("content_block_stop", {"type": "content_block_stop", "index": self.index})

    def _finish(self):
        out = b"" if self.started else self._start({})
        return out + self._close() + named_event("message_delta", {
            "type": "message_delta", "delta": {"stop_reason": self.stop_reason, "stop_sequence": None},
            "usage": usage_shape(self.usage)}) + named_event("message_stop", {"type": "message_stop"})


# --- the request ------------------------------------------------------------------------------

def _system(system):
    if system is None:
        return []
    if isinstance(system, str):
        return [{"role": "system", "content": system}]
    blocks = _list(system, "system")
    return [{"role": "system", "content": "\n".join(
        _text_block(block, f"system[{i}]") for i, block in enumerate(blocks))}]


def _messages(messages):
    chat = []
    for i, said in enumerate(messages):
        where = f"messages[{i}]"
        if said.get("role") not in ("user", "assistant"):
            raise bad_request(f"{where}.role must be 'user' or 'assistant'.", "messages")
        content = said.get("content")
        if isinstance(content, str):
            chat.append({"role": said["role"], "content": content})
        elif said["role"] == "user":
            chat.extend(_user(_list(content, f"{where}.content"), where))
        else:
            chat.append(_assistant(_list(content, f"{where}.content"), where))
    return chat


def _user(blocks, where):
    """A user turn: its tool results first (as chat `tool` messages), then what else it says."""
    results, parts = [], []
    for j, block in enumerate(blocks):
        here = f"{where}.content[{j}]"
        kind = _block_type(block, here)
        if kind == "tool_result":
            text, images = _tool_result(block, here)
            results.append({"role": "tool", "tool_call_id": block.get("tool_use_id", ""),
                            "content": text})
            parts.extend(images)
        elif kind == "text":
            parts.append({"type": "text", "text": _text_block(block, here)})
        elif kind == "image":
            parts.append(_image(block, here))
        else:
            raise _unsupported(kind, here)
    return results + ([{"role": "user", "content": joined(parts)}] if parts else [])


def _assistant(blocks, where):
    texts, calls, thoughts = [], [], []
    for j, block in enumerate(blocks):
        here = f"{where}.content[{j}]"
        kind = _block_type(block, here)
        if kind == "text":
            texts.append(_text_block(block, here))
        elif kind == "thinking":
            thoughts.append(str(block.get("thinking") or ""))
        elif kind == "tool_use":
            calls.append({"id": block.get("id") or _tool_id(), "type": "function", "function": {
                "name": block.get("name", ""),
                "arguments": json.dumps(block.get("input") or {}, ensure_ascii=False)}})
        elif kind != "redacted_thinking":
            raise _unsupported(kind, here)
    said = {"role": "assistant", "content": "".join(texts)}
    if calls:
        said["tool_calls"] = calls
        said["content"] = said["content"] or None
    if thoughts:  # DeepSeek, for one, wants the reasoning of a tool-calling turn back
        said["reasoning_content"] = "".join(thoughts)
    return said


def _tool_result(block, where):
    """A tool result's text, and its images (which chat tool messages cannot carry) as parts."""
    content = block.get("content", "")
    if isinstance(content, str):
        return content, []
    texts, images = [], []
    for k, part in enumerate(_list(content, f"{where}.content")):
        here = f"{where}.content[{k}]"
        kind = _block_type(part, here)
        if kind == "text":
            texts.append(_text_block(part, here))
        elif kind == "image":
            images.append(_image(part, here))
        else:
            raise _unsupported(kind, here)
    return "\n".join(texts), images


def _image(block, where):
    source = block.get("source")
    if isinstance(source, dict) and source.get("type") == "base64":
        url = f"data:{source.get('media_type', 'image/png')};base64,{source.get('data', '')}"
    elif isinstance(source, dict) and source.get("type") == "url":
        url = source.get("url", "")
    else:
        raise bad_request(f"{where}.source must be a base64 or url image source.", "messages")
    return {"type": "image_url", "image_url": {"url": url}}


def _tool(tool, where):
    if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
        raise bad_request(f"{where} must be an object with a string 'name'.", "tools")
    if tool.get("type") not in (None, "custom"):
        raise bad_request(f"{where}: the tool type '{tool['type']}' is run by Anthropic itself; "
                          "this provider cannot run it.", "tools")
    function = {"name": tool["name"], "parameters": tool.get("input_schema") or {"type": "object"}}
    if tool.get("description"):
        function["description"] = tool["description"]
    return {"type": "function", "function": function}


def _tool_choice(choice):
    kind = choice.get("type") if isinstance(choice, dict) else None
    if kind == "tool" and isinstance(choice.get("name"), str):
        chosen = {"tool_choice": {"type": "function", "function": {"name": choice["name"]}}}
    elif kind in TOOL_CHOICES:
        chosen = {"tool_choice": TOOL_CHOICES[kind]}
    else:
        raise bad_request("'tool_choice' must be {\"type\": \"auto\" | \"any\" | \"none\"} or "
                          "{\"type\": \"tool\", \"name\": …}.", "tool_choice")
    if choice.get("disable_parallel_tool_use") is True:
        chosen["parallel_tool_calls"] = False
    return chosen


def _thinking(thinking, reasoning):
    kind = thinking.get("type") if isinstance(thinking, dict) else None
    if kind not in ("enabled", "adaptive", "disabled"):
        raise bad_request("'thinking.type' must be 'enabled', 'adaptive' or 'disabled'.", "thinking")
    budget = thinking.get("budget_tokens")
    return reasoning(kind != "disabled", budget if isinstance(budget, int) else None)


def _block_type(block, where):
    if not isinstance(block, dict) or not isinstance(block.get("type"), str):
        raise bad_request(f"{where} must be an object with a string 'type'.", "messages")
    return block["type"]


def _text_block(block, where):
    if _block_type(block, where) != "text" or not isinstance(block.get("text"), str):
        raise bad_request(f"{where} must be a text block.", "messages")
    return block["text"]


def _unsupported(kind, where):
    return bad_request(f"{where}: '{kind}' blocks cannot be translated for this provider.",
                       "messages")


def _list(value, where):
    if not isinstance(value, list):
        raise bad_request(f"'{where}' must be an array.", re.match(r"\w+", where).group())
    return value


def _strings(value, name):
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise bad_request(f"'{name}' must be an array of strings.", name)
    return value


# --- the answer -------------------------------------------------------------------------------

def _input(arguments):
    try:
        value = json.loads(arguments or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _message_id(answer):
    return "msg_" + str(answer.get("id") or uuid.uuid4().hex)


def _tool_id():
    return "toolu_" + uuid.uuid4().hex
