"""Stopping and reloading real gunicorn (gevent_worker.py): idle keep-alive connections do not hold
a stop; requests in flight finish, are settled, and then the server exits."""
import http.client
import os
import signal
import subprocess

import pytest
import requests

from helpers import (GatewayServer, chat, expected_cost, headers, sse_data, wait_until,
                     wait_until_settled, worker_pids)


@pytest.fixture
def gateway(app, database, upstream, tmp_path):
    """gunicorn on the test's database, for the test to stop."""
    running = GatewayServer(database, upstream.url, log_path=tmp_path / "gunicorn.log")
    yield running
    if running.process.poll() is None:
        running.process.kill()
        running.process.wait(5)


def stopped_within(server, seconds):
    """Whether gunicorn's master exits within `seconds` of the SIGTERM sent now."""
    server.process.send_signal(signal.SIGTERM)
    try:
        server.process.wait(seconds)
    except subprocess.TimeoutExpired:
        return False
    return server.process.returncode == 0


def keep_alive_connection(server):
    """A raw connection that has served one request and is kept open for the next."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
    connection.request("GET", "/healthz")
    answer = connection.getresponse()
    assert answer.status == 200 and answer.read() and not answer.will_close
    return connection.sock


def test_a_stop_with_an_idle_keep_alive_client_takes_about_a_second(gateway):
    session = requests.Session()
    assert session.get(gateway.url + "/healthz", timeout=5).status_code == 200
    assert stopped_within(gateway, 5)  # not graceful_timeout (30 s)


def test_a_stop_closes_an_idle_kept_alive_connection_at_once(gateway):
    connection = keep_alive_connection(gateway)
    gateway.process.send_signal(signal.SIGTERM)
    assert connection.recv(1) == b""  # the server's end of it, well within the 5 s timeout
    gateway.process.wait(5)


def test_a_request_sent_on_a_kept_alive_connection_during_a_stop_is_closed_not_left_hanging(gateway):
    connection = keep_alive_connection(gateway)
    gateway.process.send_signal(signal.SIGTERM)
    try:
        connection.sendall(f"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:{gateway.port}\r\n\r\n".encode())
        answer = b"".join(iter(lambda: connection.recv(65536), b""))
    except ConnectionResetError:  # closed before the request came: the client sends it again
        answer = b""
    # Closed unanswered (safe to send again), or answered if it came before the worker heard of
    # the stop, and then closed: never left open (the reads end well within their 5 s timeout).
    assert answer == b"" or answer.startswith(b"HTTP/1.1 200")
    gateway.process.wait(5)


def test_a_stream_in_flight_at_a_stop_finishes_is_settled_and_then_the_server_exits(gateway, bank):
    account = bank.account("10")
    body = chat(stream=True, fake={"chunks": 10, "interval": 0.2})
    with requests.post(gateway.url + "/v1/chat/completions", json=body, headers=headers(bank.key(account)),
                       stream=True, timeout=10) as response:
        lines = response.iter_lines()
        first = next(line for line in lines if line.startswith(b"data:"))
        gateway.process.send_signal(signal.SIGTERM)
        rest = b"\n".join(lines).decode()
    assert first.startswith(b"data: {") and sse_data(rest)[-1] == "[DONE]"
    assert len(sse_data(rest)) == 11  # ten content chunks, then [DONE]
    gateway.process.wait(10)
    assert gateway.process.returncode == 0
    row = wait_until_settled(account)
    assert (row.state, row.status, row.completion_tokens) == ("settled", 200, 10)
    assert bank.charges(account) == [-expected_cost(completion=10)]
    bank.assert_consistent()


def test_a_reload_with_an_idle_keep_alive_client_replaces_the_workers_at_once(gateway):
    session = requests.Session()
    assert session.get(gateway.url + "/healthz", timeout=5).status_code == 200
    old = worker_pids(gateway.log_text())
    gateway.process.send_signal(signal.SIGHUP)
    assert wait_until(lambda: not any(alive(int(pid)) for pid in old), timeout=5)
    assert session.get(gateway.url + "/healthz", timeout=5).status_code == 200
    assert worker_pids(gateway.log_text()) - old


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
