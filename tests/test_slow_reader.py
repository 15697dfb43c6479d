"""A client that reads slowly holds the upstream back: the gateway keeps at most a few dozen
events of a stream in memory (docs/streaming.md), and TCP's flow control does the rest."""
import json
import os
import socket
import time
from pathlib import Path

from helpers import chat, headers

EVENTS = 8000
PIECE = 8000  # characters a delta: an event carries about 24 kB, the stream about 190 MB:
# far more than the sockets on its way can buffer


def workers_rss_mb(server):
    """The summed resident memory of the gunicorn workers, in MB."""
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == server.process.pid:
            total += int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    return total / 2**20


def open_stream(server, token):
    """A raw socket that sent a streaming request and then reads nothing."""
    body = json.dumps(chat(stream=True, fake={"chunks": EVENTS, "piece": PIECE, "text": "流"})).encode()
    sock = socket.create_connection(("127.0.0.1", server.port))
    head = "".join(f"{name}: {value}\r\n" for name, value in headers(token).items())
    sock.sendall(f"POST /v1/chat/completions HTTP/1.1\r\nHost: gateway\r\nContent-Type: "
                 f"application/json\r\nContent-Length: {len(body)}\r\n{head}\r\n".encode() + body)
    return sock


def read_to_the_end(sock):
    received = bytearray()
    while not received.endswith(b"0\r\n\r\n"):
        piece = sock.recv(1 << 20)
        assert piece, "the stream ended early"
        received += piece
    return bytes(received)


def test_an_unread_stream_holds_the_upstream_back_then_arrives_whole(server, bank, upstream):
    before = workers_rss_mb(server)
    sock = open_stream(server, bank.key(bank.account("100")))
    try:
        time.sleep(1.5)
        sent = upstream.stats()["events_sent"]
        time.sleep(1.0)
        stalled = upstream.stats()["events_sent"]
        grown = workers_rss_mb(server) - before
        # While nobody reads, the upstream is stuck far short of the end, and the gateway holds
        # no more than its queue of events: the rest waits in the sockets' buffers.
        assert stalled == sent < EVENTS // 4
        assert grown < 16, f"the workers grew by {grown:.0f} MB"
        received = read_to_the_end(sock)
    finally:
        sock.close()
    assert received.count(b"data: {") == EVENTS + 1
    assert b"data: [DONE]" in received
    assert upstream.stats()["events_sent"] == EVENTS + 1
