"""SSE framing as bytes: events split wherever the network cut them, relayed byte-faithfully;
events written with JSON data, named or not."""
import json

from providers.sse import data_event, named_event, split_events

STREAM = (b": keep-alive\n\n"
          b'data: {"a": "\xe4\xbd\xa0\xe5\xa5\xbd"}\n\n'
          b"data: line one\ndata: line two\n\n"
          b"data: [DONE]\n\n")


def test_events_survive_any_cut_of_the_byte_stream():
    whole = list(split_events([STREAM]))
    for size in (1, 2, 3, 7):
        pieces = [STREAM[i:i + size] for i in range(0, len(STREAM), size)]
        assert list(split_events(pieces)) == whole


def test_raw_events_concatenate_back_to_the_stream():
    assert b"".join(raw for raw, _ in split_events([STREAM])) == STREAM


def test_data_fields_are_joined_and_comments_have_none():
    assert [data for _, data in split_events([STREAM])] == [
        None, '{"a": "你好"}'.encode(), b"line one\nline two", b"[DONE]"]


def test_crlf_line_ends_are_understood():
    assert [data for _, data in split_events([b"data: x\r\n\r\n"])] == [b"x"]


def test_an_event_cut_off_without_its_blank_line_is_not_yielded():
    assert list(split_events([b'data: {"half": '])) == []


def test_written_events_read_back_with_their_name_and_json():
    written = named_event("message_stop", {"type": "message_stop"}) + data_event({"text": "你好"})
    assert [(raw.split(b"\n")[0], json.loads(data)) for raw, data in split_events([written])] == [
        (b"event: message_stop", {"type": "message_stop"}),
        ('data: {"text": "你好"}'.encode(), {"text": "你好"})]
