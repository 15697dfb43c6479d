"""What the surfaces share: a provider as a surface calls it, a whole chat answer read, and a
stream's chat chunks turned into another API's events as they are relayed."""
import json
from dataclasses import dataclass
from typing import NamedTuple

from providers.base import StreamEvent
from providers.sse import split_events


@dataclass(frozen=True)
class SeenThrough:
    """A provider as a surface calls it: what a subclass changes, else the provider's own."""
    provider: object

    @property
    def name(self):
        return self.provider.name

    def request(self, upstream, body, stream):
        return self.provider.request(upstream, body, stream)

    def completion(self, payload):
        return self.provider.completion(payload)

    def error(self, status, payload, retry_after=None):
        return self.provider.error(status, payload, retry_after)


class ToolCall(NamedTuple):
    id: str | None
    name: str
    arguments: str  # JSON text, as chat has it


@dataclass(frozen=True)
class ChatAnswer:
    """A whole chat answer, as the translations read it: its first choice (one choice is all
    these APIs have)."""
    completion: dict
    finish_reason: str | None
    reasoning: str
    text: str
    calls: list


def chat_answer(payload):
    """The ChatAnswer of a whole chat.completion (bytes)."""
    completion = json.loads(payload)
    choice = first_choice(completion)
    said = choice.get("message") or {}
    calls = [ToolCall(call.get("id"), function.get("name") or "", function.get("arguments") or "")
             for call in said.get("tool_calls") or []
             for function in [call.get("function") or {}]]
    text = said.get("content")
    return ChatAnswer(completion, choice.get("finish_reason"), reasoning_text(said),
                      text if isinstance(text, str) else "", calls)


class ChunkTranslation:
    """A stream of chat chunks (`StreamEvent`s) as another API's events, as they are relayed. A
    subclass says what each chunk becomes (`_translate(chunk)`, bytes) and what the upstream's
    end does (`_finish()`). Comments (keep-alives) pass as they came; usage rides along, the
    latest kept in `usage`."""
    usage = None

    def events(self, upstream_events):
        for event in upstream_events:
            self.usage = event.usage or self.usage
            if event.done:
                yield StreamEvent(self._finish(), usage=event.usage, done=True)
                continue
            chunk = chat_chunk(event.raw)
            if chunk is None:
                yield StreamEvent(event.raw, usage=event.usage)
                continue
            out = self._translate(chunk)
            yield StreamEvent(out or None, usage=event.usage, content=event.content and bool(out))


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
    """The first choice of a chat answer or chunk, or {}."""
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
