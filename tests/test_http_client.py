"""The upstream HTTP client, against a scripted server on a loopback socket: bodies by length, by
chunks (cut anywhere) and to the close; keep-alive reuse; timeouts that leave a stream usable."""
import socket
import threading

import pytest

from providers import http


class ScriptedServer:
    """Accepts connections and, for each request read, sends the next answer of `answers`: a list
    of byte strings sent with a pause between them (a tuple), or one byte string."""

    def __init__(self, answers, close_after=False):
        self.answers, self.close_after = list(answers), close_after
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}/v1/chat/completions"
        self.requests, self.connections = [], 0
        self.release = threading.Event()
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while self.answers:
            conn, _ = self.listener.accept()
            self.connections += 1
            with conn:
                while self.answers:
                    request = read_request(conn)
                    if request is None:
                        break
                    self.requests.append(request)
                    for part in self.answers.pop(0):
                        if part is PAUSE:
                            self.release.wait(5)
                        else:
                            conn.sendall(part)
                    if self.close_after:
                        break


PAUSE = object()


def read_request(conn):
    data = b""
    while b"\r\n\r\n" not in data:
        more = conn.recv(65536)
        if not more:
            return None
        data += more
    head, body = data.split(b"\r\n\r\n", 1)
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    while len(body) < length:
        body += conn.recv(65536)
    return head + b"\r\n\r\n" + body


def body_of(response):
    parts = []
    while data := response.read1():
        parts.append(data)
    response.close()
    return b"".join(parts)


def post(server, payload=b"{}", read_timeout=5):
    return http.post(server.url, {"Content-Type": "application/json"}, payload, 2, read_timeout)


@pytest.fixture(autouse=True)
def fresh_pools():
    http.origin.cache_clear()


def test_a_body_of_known_length_is_read_whole_and_the_connection_reused():
    answer = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
    server = ScriptedServer([[answer], [answer]])
    first = post(server, b'{"a": 1}')
    assert (first.status_code, body_of(first)) == (200, b"hello")
    assert body_of(post(server)) == b"hello"
    assert server.connections == 1
    assert server.requests[0].startswith(b"POST /v1/chat/completions HTTP/1.1\r\n")
    assert server.requests[0].endswith(b'\r\n\r\n{"a": 1}')


@pytest.mark.parametrize("cut", [1, 3, 7, 12, 1000])
def test_a_chunked_body_is_decoded_wherever_the_packets_are_cut(cut):
    body = b"5\r\nhello\r\n1;ext=1\r\n \r\n6\r\nworld!\r\n0\r\nTrailer: x\r\n\r\n"
    parts = [body[i:i + cut] for i in range(0, len(body), cut)]
    server = ScriptedServer([[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", *parts],
                             [b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n"]])
    assert body_of(post(server)) == b"hello world!"
    assert post(server).status_code == 204
    assert server.connections == 1


def test_each_chunk_is_returned_as_it_arrives_without_waiting_for_the_next():
    server = ScriptedServer([[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n",
                              PAUSE, b"4\r\nlast\r\n0\r\n\r\n"]])
    response = post(server)
    assert response.read1() == b"first"  # the server is still paused
    server.release.set()
    assert body_of(response) == b"last"


def test_a_read_that_times_out_can_be_tried_again():
    server = ScriptedServer([[b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", PAUSE,
                              b"2\r\nok\r\n0\r\n\r\n"]])
    response = post(server)
    response.settimeout(0.05)
    with pytest.raises(TimeoutError):
        response.read1()
    server.release.set()
    response.settimeout(5)
    assert body_of(response) == b"ok"


def test_a_body_without_length_runs_to_the_close_and_the_connection_is_not_reused():
    server = ScriptedServer([[b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it"],
                             [b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]], close_after=True)
    assert body_of(post(server)) == b"all of it"
    assert body_of(post(server)) == b"ok"
    assert server.connections == 2


def test_an_idle_connection_the_upstream_closed_is_replaced_without_an_error():
    server = ScriptedServer([[b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na"],
                             [b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb"]], close_after=True)
    assert body_of(post(server)) == b"a"  # kept idle, but the server closes it
    assert body_of(post(server)) == b"b"
    assert server.connections == 2


@pytest.mark.parametrize("answer", [b"SSH-2.0-OpenSSH\r\n\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nshort",
                                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n"])
def test_an_answer_that_is_not_http_or_ends_early_is_a_protocol_error(answer):
    server = ScriptedServer([[answer]], close_after=True)
    with pytest.raises(http.ProtocolError):
        body_of(post(server))


def test_a_port_nobody_listens_on_is_an_os_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(OSError):
        http.post(f"http://127.0.0.1:{port}/v1/x", {}, b"", 2, 2)


def test_a_plain_http_proxy_from_the_environment_gets_the_whole_url(monkeypatch):
    proxy = ScriptedServer([[b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"]])
    monkeypatch.setenv("http_proxy", proxy.url.rsplit("/v1", 1)[0])
    monkeypatch.setenv("no_proxy", "")
    url = "http://upstream.example:8000/v1/chat/completions"
    assert body_of(http.post(url, {}, b"{}", 2, 5)) == b"ok"
    assert proxy.requests[0].startswith(b"POST http://upstream.example:8000/v1/chat/completions HTTP/1.1")
    assert b"\r\nHost: upstream.example:8000\r\n" in proxy.requests[0]
