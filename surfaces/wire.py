"""What the translations share: reading a chat answer's parts and a stream's chat chunks, and
writing named SSE events (`event:` and `data:` lines, as Anthropic's and OpenAI's Responses
streams have them)."""
import json

from providers.sse import split_events


def chat_chunk(raw):
    """The chat chunk an upstream event carries, or None for a comment (a keep-alive)."""
    for _, data in split_events([raw]):
        try:
            chunk = json.loads(data) if data else None
        except ValueError:
            return None
        return chunk if isinstance(chunk, dict) else None
    return None


def first_choice(answer):
    """The first choice of a chat answer or chunk (one choice is all these APIs have), or {}."""
    choices = answer.get("choices")
    choice = choices[0] if isinstance(choices, list) and choices else None
    return choice if isinstance(choice, dict) else {}


def reasoning_text(said):
    """The reasoning of a chat message or delta: `reasoning_content`, or `reasoning` (vLLM,
    Ollama)."""
    text = said.get("reasoning_content") or said.get("reasoning")
    return text if isinstance(text, str) else ""


def joined(parts):
    """Chat content from parts: text alone as one string (what every chat upstream takes),
    else the parts."""
    if all(part["type"] == "text" for part in parts):
        return "\n".join(part["text"] for part in parts)
    return parts


def sse_event(name, data):
    return (b"event: " + name.encode() + b"\ndata: "
            + json.dumps(data, ensure_ascii=False).encode() + b"\n\n")
