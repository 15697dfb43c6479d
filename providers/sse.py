"""Server-sent events as bytes: read by splitting on line ends, never decoded as a whole
(docs/streaming.md), and written."""
import json


def split_events(chunks):
    """Yield (raw, data) per event from an iterable of byte chunks.

    `raw` is the event exactly as received, blank line included, so it can be relayed
    byte-faithfully; `data` is its joined `data:` field, or None for a comment-only event.
    A last event cut off without its blank line is not yielded: it may be half-written.
    """
    pending = b""
    lines = []
    for chunk in chunks:
        pending += chunk
        *complete, pending = pending.split(b"\n")
        for line in complete:
            lines.append(line + b"\n")
            if line in (b"", b"\r"):
                if len(lines) > 1:
                    yield b"".join(lines), _data(lines)
                lines = []


def _data(lines):
    fields = [line[5:].rstrip(b"\r\n") for line in lines if line.startswith(b"data:")]
    if not fields:
        return None
    return b"\n".join(field[1:] if field.startswith(b" ") else field for field in fields)


def data_event(data):
    """An event whose data is `data` as JSON (OpenAI's streams)."""
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def named_event(name, data):
    """An event with its name on an `event:` line (Anthropic's streams, OpenAI's Responses)."""
    return b"event: " + name.encode() + b"\n" + data_event(data)
