"""Anthropic's Messages API behind OpenAI's Chat Completions (docs/providers.md, "Anthropic").

The caller's body is translated here (`messages_request`, a pure function); answers and streams
are translated back in `anthropic_answer`, and what both ways share (the call, usage, errors) is
in `anthropic_wire`. What Anthropic does not take is left out; what cannot be translated is a 400
naming the field. POST /v1/messages needs no translation: it is relayed as it came
(`speaks_messages`, docs/surfaces.md).
"""
import json

from errors import bad_request
from providers import anthropic_answer, anthropic_wire
from providers.base import token_count

TOOL_CHOICES = {"auto": "auto", "required": "any", "none": "none"}
THINKING_ON = ("enabled", "adaptive")
NO_TOOL_ARGUMENTS = {"type": "object", "properties": {}}


class Anthropic:
    name = "anthropic"
    env_prefix = "ANTHROPIC"
    default_base_url = "https://api.anthropic.com"
    speaks_messages = True  # /v1/messages is relayed to it as it came
    models = ("claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5", "claude-fable-5-2",
              "claude-opus-5", "claude-sonnet-5")

    def request(self, upstream, body, stream):
        try:
            return anthropic_wire.call(upstream, messages_request(body, stream), stream)
        except RecursionError:
            raise bad_request("The request is nested too deeply to translate.") from None

    def completion(self, payload):
        return anthropic_answer.completion(self.name, payload)

    def events(self, chunks, wants_usage):
        return anthropic_answer.events(self.name, chunks, wants_usage)

    def error(self, status, payload, retry_after=None):
        return anthropic_wire.error(self.name, status, payload, retry_after)


provider = Anthropic()


def messages_request(body, stream):
    """The Messages API body for an OpenAI Chat Completions `body` (with the gateway's defaults)."""
    if body.get("n", 1) != 1:
        raise bad_request("Anthropic answers with one choice: 'n' must be 1.", "n")
    system, messages = _conversation(body["messages"])
    sent = {"model": body["model"], "max_tokens": _max_tokens(body), "messages": messages,
            **_sampling(body)}
    if system:
        sent["system"] = system
    if "stop" in body:
        sent["stop_sequences"] = _stop_sequences(body["stop"])
    user = body.get("user") or body.get("safety_identifier")
    if isinstance(user, str):
        sent["metadata"] = {"user_id": user}
    if body.get("tools"):
        sent["tools"] = _tools(body["tools"])
        choice = _tool_choice(body.get("tool_choice"), body.get("parallel_tool_calls"))
        if choice:
            sent["tool_choice"] = choice
    if stream:
        sent["stream"] = True
    return sent


def _sampling(body):
    """`thinking`, `top_p` and `top_k` as they are (Anthropic's names), the temperature brought
    into Anthropic's 0–1. While Claude thinks it takes neither a temperature nor top_k."""
    sampling = {name: body[name] for name in ("top_p", "top_k") if name in body}
    thinking = body.get("thinking")
    if isinstance(thinking, dict):
        sampling["thinking"] = thinking
    if isinstance(thinking, dict) and thinking.get("type") in THINKING_ON:
        sampling.pop("top_k", None)
    else:
        sampling["temperature"] = min(body.get("temperature", 1), 1)
    return sampling


def _max_tokens(body):
    """`max_tokens` (the gateway always sets it), or a smaller `max_completion_tokens`."""
    limit, asked = body["max_tokens"], token_count(body.get("max_completion_tokens"))
    return asked if asked and asked < limit else limit


def _stop_sequences(stop):
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise bad_request("'stop' must be a string or an array of non-empty strings.", "stop")
    return stops


# --- messages ------------------------------------------------------------------------------------

def _conversation(messages):
    """(system text blocks, turns): system and developer messages go to the top-level `system`;
    tool results become user turns; consecutive turns of one role are merged into one, as
    Anthropic wants tool results together in the user turn after the tool calls."""
    system, turns = [], []
    for index, message in enumerate(messages):
        role, content = message["role"], message.get("content")
        if role in ("system", "developer"):
            system.extend(_text_blocks(content, index))
        elif role == "user":
            _add_turn(turns, "user", _user_blocks(content, index))
        elif role == "assistant":
            _add_turn(turns, "assistant", _text_blocks(content, index) + _tool_uses(message, index))
        elif role == "tool":
            _add_turn(turns, "user", [_tool_result(message, index)])
        else:
            raise _bad_message(index, f"has the role '{role}', which Anthropic does not take")
    return system, turns


def _add_turn(turns, role, blocks):
    if turns and turns[-1]["role"] == role:
        turns[-1]["content"].extend(blocks)
    else:
        turns.append({"role": role, "content": blocks})


def _text_blocks(content, index):
    """Text blocks from a string or an array of text parts (Anthropic refuses empty ones)."""
    if isinstance(content, str):
        return [{"type": "text", "text": content}] if content else []
    blocks = []
    for part in content or ():
        kind = _part_type(part, index)
        if kind != "text":
            raise _bad_message(index, f"has a '{kind}' part, which Anthropic does not take here")
        if part["text"]:
            blocks.append(_text_block(part))
    return blocks


def _user_blocks(content, index):
    """Text and image blocks."""
    if not isinstance(content, list):
        return _text_blocks(content, index)
    blocks = []
    for part in content:
        if _part_type(part, index) == "image_url":
            blocks.append(_image(part.get("image_url"), index))
        else:
            blocks.extend(_text_blocks([part], index))
    return blocks


def _part_type(part, index):
    if not isinstance(part, dict) or not isinstance(part.get("type"), str):
        raise _bad_message(index, "has a content part that is not an object with a 'type'")
    if part["type"] == "text" and not isinstance(part.get("text"), str):
        raise _bad_message(index, "has a text part without a string 'text'")
    return part["type"]


def _text_block(part):
    block = {"type": "text", "text": part["text"]}
    if isinstance(part.get("cache_control"), dict):  # Anthropic's prompt-cache breakpoint
        block["cache_control"] = part["cache_control"]
    return block


def _image(image, index):
    """An image block from an `image_url`: a base64 data URL, or an http(s) URL Anthropic fetches."""
    url = image.get("url") if isinstance(image, dict) else image
    if not isinstance(url, str):
        raise _bad_message(index, "has an image_url part without a 'url'")
    header, _, data = url.partition(",")
    if header.startswith("data:image/") and header.endswith(";base64") and data:
        return {"type": "image", "source": {"type": "base64", "media_type": header[5:-7].lower(),
                                            "data": data}}
    if url.startswith(("https://", "http://")):
        return {"type": "image", "source": {"type": "url", "url": url}}
    raise _bad_message(index, "has an image_url that is neither a base64 data: URL of an image "
                              "nor an http(s) URL")


def _tool_uses(message, index):
    calls = message.get("tool_calls") or []
    if not isinstance(calls, list):
        raise _bad_message(index, "has 'tool_calls' that are not an array")
    return [_tool_use(call, index) for call in calls]


def _tool_use(call, index):
    function = call.get("function") if isinstance(call, dict) else None
    if not (isinstance(function, dict) and _is_text(call.get("id")) and _is_text(function.get("name"))):
        raise _bad_message(index, "has a tool call without an 'id' and a function 'name'")
    return {"type": "tool_use", "id": call["id"], "name": function["name"],
            "input": _arguments(function.get("arguments"), index)}


def _arguments(arguments, index):
    """A tool call's `arguments` (a JSON string in OpenAI's shape) as Anthropic's `input` object."""
    if arguments in (None, ""):
        return {}
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else None
    except (ValueError, RecursionError):
        parsed = None
    if not isinstance(parsed, dict):
        raise _bad_message(index, "has tool call arguments that are not a JSON object")
    return parsed


def _tool_result(message, index):
    call_id = message.get("tool_call_id")
    if not _is_text(call_id):
        raise _bad_message(index, "is a tool result without a 'tool_call_id'")
    result = {"type": "tool_result", "tool_use_id": call_id}
    content = _text_blocks(message.get("content"), index)
    if content:
        result["content"] = content
    return result


# --- tools ---------------------------------------------------------------------------------------

def _tools(tools):
    if not isinstance(tools, list):
        raise bad_request("'tools' must be an array.", "tools")
    return [_tool(tool) for tool in tools]


def _tool(tool):
    function = tool.get("function") if isinstance(tool, dict) else None
    if not isinstance(function, dict) or tool.get("type", "function") != "function" \
            or not _is_text(function.get("name")):
        raise bad_request("Each of 'tools' must be a function with a 'name'.", "tools")
    parameters = function.get("parameters")
    translated = {"name": function["name"],
                  "input_schema": parameters if isinstance(parameters, dict) else NO_TOOL_ARGUMENTS}
    if _is_text(function.get("description")):
        translated["description"] = function["description"]
    return translated


def _tool_choice(choice, parallel):
    """OpenAI's `tool_choice` and `parallel_tool_calls` as Anthropic's `tool_choice`."""
    if choice is None:
        translated = {"type": "auto"} if parallel is False else None
    elif isinstance(choice, str) and choice in TOOL_CHOICES:
        translated = {"type": TOOL_CHOICES[choice]}
    elif isinstance(choice, dict) and isinstance(choice.get("function"), dict) \
            and _is_text(choice["function"].get("name")):
        translated = {"type": "tool", "name": choice["function"]["name"]}
    else:
        raise bad_request("'tool_choice' must be 'auto', 'required', 'none' or "
                          "{\"type\": \"function\", \"function\": {\"name\": …}}.", "tool_choice")
    if translated and parallel is False and translated["type"] != "none":
        translated["disable_parallel_tool_use"] = True
    return translated


def _is_text(value):
    return isinstance(value, str) and bool(value)


def _bad_message(index, problem):
    return bad_request(f"messages[{index}] {problem}.", "messages")
