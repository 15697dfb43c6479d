"""The pooled upstream connections (providers/upstream_connection.py)."""
import socket
import subprocess
import sys
import threading

from helpers import ROOT
from providers import upstream_connection


class CountingSocket:
    """A real socket that counts the writes made to it."""

    def __init__(self, sock):
        self.sock, self.writes = sock, []

    def sendall(self, data):
        self.writes.append(bytes(data))
        self.sock.sendall(data)

    def __getattr__(self, name):
        return getattr(self.sock, name)


def received_by(listener):
    """What the first connection to `listener` sends, collected until it closes."""
    parts = []

    def serve():
        conn, _ = listener.accept()
        with conn:
            while data := conn.recv(65536):
                parts.append(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    return parts, thread


def pooled(listener):
    """A connection from the gateway's upstream pool to `listener`, not yet connected."""
    pools = upstream_connection.new_session().get_adapter("http://x").poolmanager
    return pools.connection_from_url(f"http://127.0.0.1:{listener.getsockname()[1]}")._get_conn()


def sent_through(request):
    """The writes a pooled upstream connection makes for `request(connection)`, and the bytes
    that reached the server."""
    with socket.create_server(("127.0.0.1", 0)) as listener:
        parts, thread = received_by(listener)
        connection = pooled(listener)
        connection.connect()
        connection.sock = counting = CountingSocket(connection.sock)
        request(connection)
        connection.close()
        thread.join(5)
    return counting.writes, b"".join(parts)


def test_a_request_with_a_body_leaves_in_one_write():
    body = b'{"model": "deepseek-flash", "messages": []}'
    writes, received = sent_through(lambda connection: connection.request(
        "POST", "/v1/chat/completions", body=body, headers={"Content-Type": "application/json"}))
    assert len(writes) == 1
    assert received.startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert received.endswith(b"\r\n\r\n" + body)
    assert b"Content-Length: %d\r\n" % len(body) in received


def test_a_response_is_read_through_a_small_buffer():
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"
    with socket.create_server(("127.0.0.1", 0)) as listener:
        connection = pooled(listener)
        connection.connect()
        accepted, _ = listener.accept()
        with accepted:
            connection.request("GET", "/", preload_content=False)
            accepted.recv(65536)
            accepted.sendall(answer)
            response = connection.getresponse()
            # A BufferedReader's size counts its buffer: http.client's own would be 8 KB.
            assert sys.getsizeof(response._fp.fp) < upstream_connection.READ_BUFFER_BYTES + 1024
            assert response.read() == b"ok"
        connection.close()


def test_a_request_without_a_body_is_sent_whole():
    writes, received = sent_through(lambda connection: connection.request("GET", "/v1/models"))
    assert len(writes) == 1
    assert received.startswith(b"GET /v1/models HTTP/1.1\r\n") and received.endswith(b"\r\n\r\n")


# Run under gevent, as in a worker: whether asking about a pooled connection let another greenlet
# run (a pass of the event loop, which under load is a wait of its own).
CHECK_UNDER_GEVENT = """
from gevent import monkey; monkey.patch_all()
import os, resource, socket, gevent
from providers import upstream_connection
if TAKEN:  # descriptors already open, as in a worker holding that many streams
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    taken = [os.dup(0) for _ in range(TAKEN)]
listener = socket.create_server(("127.0.0.1", 0))
pools = upstream_connection.new_session().get_adapter("http://x").poolmanager
connection = pools.connection_from_url("http://127.0.0.1:%d" % listener.getsockname()[1])._get_conn()
connection.connect()
accepted, _ = listener.accept()
if CLOSED:
    accepted.close()
    gevent.sleep(0.2)
others_ran = []
gevent.spawn(others_ran.append, True)
print(connection.is_connected, bool(others_ran))
"""


def pooled_connection_check(closed, taken=0):
    """(is_connected, whether another greenlet ran meanwhile) for a pooled upstream connection
    opened after `taken` other descriptors."""
    done = subprocess.run([sys.executable, "-c",
                           f"CLOSED = {closed}\nTAKEN = {taken}\n" + CHECK_UNDER_GEVENT],
                          cwd=ROOT, capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    return tuple(word == "True" for word in done.stdout.split())


def test_an_open_pooled_connection_is_reused_without_a_pass_of_the_event_loop():
    assert pooled_connection_check(closed=False) == (True, False)


def test_a_pooled_connection_the_upstream_closed_is_not_reused():
    assert pooled_connection_check(closed=True) == (False, False)


def test_a_pooled_connection_past_descriptor_1023_is_checked():
    assert pooled_connection_check(closed=False, taken=1100) == (True, False)
