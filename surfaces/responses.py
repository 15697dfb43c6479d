"""OpenAI's Responses API, stateless, on Chat Completions: a Responses request as a chat request,
and the chat answer and its chunks back as a `response` object and its events (docs/surfaces.md).
Pure functions of the payloads; the route is in surfaces/routes.py."""
import json
import time
import uuid

from chat_request import ChatRequest, check_count, check_model, check_number, check_stream, json_object
from errors import ApiError, bad_request
from providers.base import Usage
from providers.sse import named_event
from surfaces.wire import ChunkTranslation, chat_answer, first_choice, joined, reasoning_text

# Fields that need responses or prompts stored on the server, which this gateway never keeps.
STATEFUL = ("previous_response_id", "conversation", "prompt", "background")
INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
TEXT_PARTS = ("input_text", "output_text", "text")
SHAPES = {str: "a string", list: "an array", dict: "an object"}


def parse(raw):
    """(the Responses body, the ChatRequest it translates to), or a 400 naming what is wrong or
    has no chat equivalent. `max_output_tokens` is a ceiling, lowered to the model's largest."""
    body = json_object(raw)
    check_model(body.get("model"))
    for name in STATEFUL:
        if body.get(name) not in (None, False):
            raise ApiError(400, "unsupported_parameter",
                           f"'{name}' is not supported: this gateway stores no responses; send "
                           "the whole conversation in 'input' instead.", param=name)
    for name, kind in (("instructions", str), ("tools", list), ("text", dict), ("reasoning", dict)):
        if name in body and not isinstance(body[name], kind):
            raise bad_request(f"'{name}' must be {SHAPES[kind]}.", name)
    check_number(body, "temperature", 0, 2)
    check_number(body, "top_p", 0, 1)
    check_count(body, "max_output_tokens")
    stream = check_stream(body)
    return body, ChatRequest(body=chat_body(body), stream=stream, wants_usage=True,
                             body_bytes=len(raw), max_tokens_is_ceiling=True)


def reasoning(body, switch):
    """The provider's reasoning fields for the request's `reasoning.effort` (`switch(enabled,
    budget)` is the provider's); none when it asks nothing."""
    effort = body.get("reasoning", {}).get("effort")
    return switch(effort not in ("none", "minimal"), None) if effort else {}


def chat_body(body):
    """The chat request for a Responses `body`."""
    messages = [{"role": "system", "content": body["instructions"]}] if body.get("instructions") else []
    given = body.get("input")
    if isinstance(given, str):
        messages.append({"role": "user", "content": given})
    elif isinstance(given, list) and given:
        messages.extend(_items(given))
    else:
        raise bad_request("'input' must be a string or a non-empty array of items.", "input")
    chat = {"model": body["model"], "messages": messages}
    for name in ("temperature", "top_p", "parallel_tool_calls", "stream"):
        if name in body:
            chat[name] = body[name]
    if "max_output_tokens" in body:
        chat["max_tokens"] = body["max_output_tokens"]
    if body.get("tools"):
        chat["tools"] = [_tool(tool, f"tools[{i}]") for i, tool in enumerate(body["tools"])]
    if "tool_choice" in body:
        chat["tool_choice"] = _tool_choice(body["tool_choice"])
    chat.update(_response_format((body.get("text") or {}).get("format")))
    return chat


def skeleton(body, model):
    """The `response` object for a request, before any output: what it echoes of the request."""
    return {"id": "resp_" + uuid.uuid4().hex, "object": "response", "created_at": int(time.time()),
            "status": "in_progress", "error": None, "incomplete_details": None,
            "instructions": body.get("instructions"), "max_output_tokens": body.get("max_output_tokens"),
            "model": model, "output": [], "parallel_tool_calls": body.get("parallel_tool_calls", True),
            "previous_response_id": None, "reasoning": body.get("reasoning") or {"effort": None},
            "store": False, "temperature": body.get("temperature"), "text": body.get("text") or {
                "format": {"type": "text"}}, "tool_choice": body.get("tool_choice", "auto"),
            "tools": body.get("tools") or [], "top_p": body.get("top_p"), "truncation": "disabled",
            "usage": None, "user": None, "metadata": body.get("metadata") or {}}


def response(answer, usage, base):
    """The `response` object for a whole chat.completion (bytes), from its `skeleton`."""
    said = chat_answer(answer)
    output = []
    if said.reasoning:
        output.append(_reasoning_item(_id("rs"), said.reasoning))
    if said.text:
        output.append(_message_item(_id("msg"), said.text))
    for call in said.calls:
        output.append(_call_item(_id("fc"), call.id or _id("call"), call.name, call.arguments))
    return json.dumps(_finished(base, output, said.finish_reason,
                                _usage_shape(usage, said.completion.get("usage"))),
                      ensure_ascii=False).encode()


class ResponseStream(ChunkTranslation):
    """One stream's chat chunks (`StreamEvent`s) as Responses events: `response.created`, an
    output item per kind in turn (reasoning, message, each function call) with its deltas and
    `….done` events, then `response.completed` (or `response.incomplete`)."""

    def __init__(self, base):
        self.base = base
        self.sequence = 0
        self.item = None        # the open item: its kind ("reasoning", "message", ("call", n)) …
        self.text = ""          # … and the text or arguments it has so far
        self.output = []        # the items done
        self.finish_reason = None
        self.reported = None    # the upstream's own usage object, for its reasoning tokens
        self.started = False

    def failed(self, error):
        """The events that end a stream failing part-way: `error`, then `response.failed`."""
        details = {"code": error.code, "message": error.message}
        return (self._event("error", {**details, "param": error.param})
                + self._event("response.failed", {"response": {
                    **self.base, "status": "failed", "error": details, "output": self.output}}))

    def _translate(self, chunk):
        out = b"" if self.started else self._start()
        if isinstance(chunk.get("usage"), dict):
            self.reported = chunk["usage"]
        choice = first_choice(chunk)
        delta = choice.get("delta") or {}
        if reasoning_text(delta):
            out += self._open("reasoning", {"type": "reasoning", "id": _id("rs"), "summary": []})
            out += self._add_text("response.reasoning_summary_text.delta", reasoning_text(delta),
                                  summary_index=0)
        if delta.get("content"):
            out += self._open("message", {"type": "message", "id": _id("msg"), "role": "assistant",
                                          "content": []})
            out += self._add_text("response.output_text.delta", delta["content"], content_index=0,
                                  logprobs=[])
        for call in delta.get("tool_calls") or []:
            function = call.get("function") or {}
            out += self._open(("call", call.get("index", 0)), {
                "type": "function_call", "id": _id("fc"), "call_id": call.get("id") or _id("call"),
                "name": function.get("name") or "", "arguments": ""})
            if function.get("arguments"):
                out += self._add_text("response.function_call_arguments.delta", function["arguments"])
        if choice.get("finish_reason"):
            self.finish_reason = choice["finish_reason"]
            out += self._close()
        return out

    def _start(self):
        self.started = True
        return (self._event("response.created", {"response": self.base})
                + self._event("response.in_progress", {"response": self.base}))

    def _open(self, kind, item):
        if self.item is not None and self.item[0] == kind:
            return b""
        out = self._close()
        self.item, self.text = (kind, {**item, "status": "in_progress"}), ""
        out += self._event("response.output_item.added", {"output_index": len(self.output),
                                                          "item": self.item[1]})
        if kind == "reasoning":
            out += self._event("response.reasoning_summary_part.added", {
                **self._where(), "summary_index": 0, "part": {"type": "summary_text", "text": ""}})
        elif kind == "message":
            out += self._event("response.content_part.added", {
                **self._where(), "content_index": 0, "part": _message_item("", "")["content"][0]})
        return out

    def _add_text(self, name, delta, **index):
        self.text += delta
        return self._event(name, {**self._where(), **index, "delta": delta})

    def _close(self):
        """The `….done` events of the open item, which joins the output."""
        if self.item is None:
            return b""
        where, (kind, item), text = self._where(), self.item, self.text
        if kind == "reasoning":
            done = _reasoning_item(item["id"], text)
            out = (self._event("response.reasoning_summary_text.done",
                               {**where, "summary_index": 0, "text": text})
                   + self._event("response.reasoning_summary_part.done",
                                 {**where, "summary_index": 0, "part": done["summary"][0]}))
        elif kind == "message":
            done = _message_item(item["id"], text)
            out = (self._event("response.output_text.done",
                               {**where, "content_index": 0, "text": text, "logprobs": []})
                   + self._event("response.content_part.done",
                                 {**where, "content_index": 0, "part": done["content"][0]}))
        else:
            done = _call_item(item["id"], item["call_id"], item["name"], text)
            out = self._event("response.function_call_arguments.done",
                              {**where, "name": item["name"], "arguments": text})
        out += self._event("response.output_item.done", {"output_index": len(self.output), "item": done})
        self.item = None
        self.output.append(done)
        return out

    def _where(self):
        return {"item_id": self.item[1]["id"], "output_index": len(self.output)}

    def _finish(self):
        out = (b"" if self.started else self._start()) + self._close()
        finished = _finished(self.base, self.output, self.finish_reason,
                             _usage_shape(self.usage, self.reported))
        name = "response.completed" if finished["status"] == "completed" else "response.incomplete"
        return out + self._event(name, {"response": finished})

    def _event(self, name, data):
        self.sequence += 1
        return named_event(name, {"type": name, "sequence_number": self.sequence - 1, **data})


# --- the request ------------------------------------------------------------------------------

def _items(items):
    """Chat messages for input items: a function call joins the assistant turn before it, and a
    reasoning item is handed back on the assistant turn after it."""
    messages, reasoning = [], ""
    for i, item in enumerate(items):
        where = f"input[{i}]"
        if not isinstance(item, dict):
            raise bad_request(f"{where} must be an object.", "input")
        kind = item.get("type", "message")
        if kind == "message":
            messages.append(_message(item, where))
        elif kind == "function_call":
            call = {"id": _string(item, "call_id", where), "type": "function", "function": {
                "name": _string(item, "name", where), "arguments": item.get("arguments") or "{}"}}
            if not messages or messages[-1]["role"] != "assistant":
                messages.append({"role": "assistant", "content": None})
            messages[-1].setdefault("tool_calls", []).append(call)
        elif kind == "function_call_output":
            messages.append({"role": "tool", "tool_call_id": _string(item, "call_id", where),
                             "content": _output_text(item.get("output"), where)})
        elif kind == "reasoning":
            summary = item.get("summary")
            reasoning += "".join(str(part.get("text") or "") for part in summary
                                 if isinstance(part, dict)) if isinstance(summary, list) else ""
            continue
        elif kind == "item_reference":
            raise ApiError(400, "unsupported_parameter", f"{where}: items by reference need stored "
                           "responses, which this gateway does not keep.", param="input")
        else:
            raise bad_request(f"{where}: items of type '{kind}' are not supported.", "input")
        if reasoning and messages[-1]["role"] == "assistant":
            messages[-1]["reasoning_content"], reasoning = reasoning, ""
    if not messages:
        raise bad_request("'input' holds no message, function call or output: reasoning items alone "
                          "leave nothing to answer.", "input")
    return messages


def _message(item, where):
    role = item.get("role")
    if role not in ("user", "assistant", "system", "developer"):
        raise bad_request(f"{where}.role must be user, assistant, system or developer.", "input")
    content = item.get("content")
    if isinstance(content, str):
        text = content
    elif isinstance(content, list):
        text = joined([_part(part, f"{where}.content[{j}]") for j, part in enumerate(content)])
    else:
        raise bad_request(f"{where}.content must be a string or an array of parts.", "input")
    return {"role": "system" if role == "developer" else role, "content": text}


def _part(part, where):
    kind = part.get("type") if isinstance(part, dict) else None
    if kind in TEXT_PARTS or kind == "refusal":
        return {"type": "text", "text": str(part.get("text") or part.get("refusal") or "")}
    if kind == "input_image" and isinstance(part.get("image_url"), str):
        image = {"url": part["image_url"]}
        if part.get("detail"):
            image["detail"] = part["detail"]
        return {"type": "image_url", "image_url": image}
    raise bad_request(f"{where}: parts of type '{kind}' are not supported (images by URL or data "
                      "URL are; files are not).", "input")


def _output_text(output, where):
    if isinstance(output, str):
        return output
    if isinstance(output, list):
        return "\n".join(_part(part, f"{where}.output")["text"] for part in output)
    raise bad_request(f"{where}.output must be a string or an array of text parts.", "input")


def _tool(tool, where):
    if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(tool.get("name"), str):
        raise bad_request(f"{where}: only function tools ({{\"type\": \"function\", \"name\": …}}) are "
                          "supported.", "tools")
    function = {name: tool[name] for name in ("name", "description", "parameters", "strict")
                if tool.get(name) is not None}
    return {"type": "function", "function": function}


def _tool_choice(choice):
    if choice in ("auto", "none", "required"):
        return choice
    if isinstance(choice, dict) and choice.get("type") == "function" and isinstance(choice.get("name"), str):
        return {"type": "function", "function": {"name": choice["name"]}}
    raise bad_request("'tool_choice' must be auto, none, required or {\"type\": \"function\", "
                      "\"name\": …}.", "tool_choice")


def _response_format(text_format):
    kind = text_format.get("type") if isinstance(text_format, dict) else None
    if kind == "json_object":
        return {"response_format": {"type": "json_object"}}
    if kind == "json_schema":
        schema = {name: text_format[name] for name in ("name", "schema", "strict", "description")
                  if name in text_format}
        return {"response_format": {"type": "json_schema", "json_schema": schema}}
    return {}


def _string(item, name, where):
    if not isinstance(item.get(name), str):
        raise bad_request(f"{where}.{name} must be a string.", "input")
    return item[name]


# --- the answer -------------------------------------------------------------------------------

def _finished(base, output, finish_reason, usage):
    incomplete = INCOMPLETE.get(finish_reason)
    return {**base, "status": "incomplete" if incomplete else "completed", "output": output,
            "incomplete_details": {"reason": incomplete} if incomplete else None, "usage": usage}


def _usage_shape(usage, reported):
    """Usage as the Responses API reports it; reasoning tokens from the upstream's own report."""
    usage = usage or Usage()
    details = (reported or {}).get("completion_tokens_details") if isinstance(reported, dict) else None
    thought = details.get("reasoning_tokens") if isinstance(details, dict) else None
    return {"input_tokens": usage.prompt, "input_tokens_details": {"cached_tokens": usage.cached},
            "output_tokens": usage.completion,
            "output_tokens_details": {"reasoning_tokens": thought if isinstance(thought, int) else 0},
            "total_tokens": usage.total}


def _reasoning_item(item_id, text):
    return {"type": "reasoning", "id": item_id, "summary": [{"type": "summary_text", "text": text}]}


def _message_item(item_id, text):
    return {"type": "message", "id": item_id, "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]}


def _call_item(item_id, call_id, name, arguments):
    return {"type": "function_call", "id": item_id, "call_id": call_id, "name": name,
            "arguments": arguments, "status": "completed"}


def _id(prefix):
    return f"{prefix}_{uuid.uuid4().hex}"
