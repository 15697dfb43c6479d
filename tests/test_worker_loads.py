"""Connections shared evenly between the workers (worker_loads.py, gevent_worker.py): a worker that
holds more connections than another leaves new ones to it, but never leaves a caller unanswered."""
import os
import re
import signal
import socket
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path

import pytest
import requests

from gevent_worker import ACCEPT_SLACK
from helpers import GatewayServer, wait_until, worker_pids
from worker_loads import WorkerLoads


@pytest.fixture
def two_workers(database, upstream_server, tmp_path):
    """The gateway on two workers, once both serve; and their pids."""
    running = GatewayServer(database, upstream_server.url, workers=2,
                            log_path=tmp_path / "gunicorn.log")
    pids = sorted(int(pid) for pid in worker_pids(running.log_text()))
    assert wait_until(lambda: serving(running) >= set(pids), timeout=20)
    yield running, pids
    running.stop()


def serving(server):
    """The pids of the workers that have answered a probe, after one more on a new connection."""
    requests.get(server.url + "/healthz", headers={"Connection": "close"}, timeout=5)
    return {int(pid) for pid in re.findall(r"\[(\d+)\] \S+ \S+ \"GET /healthz", server.log_text())}


def open_answered(server, count, stack):
    """`count` keep-alive connections opened one after another, each answered once and kept."""
    for _ in range(count):
        connection = stack.enter_context(socket.create_connection(("127.0.0.1", server.port), 10))
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: gateway\r\n\r\n")
        assert connection.recv(65536).startswith(b"HTTP/1.1 200")


def connections_held(pids, port):
    """How many established connections to `port` each process of `pids` holds."""
    established = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rsplit(":", 1)[1], 16) == port and fields[3] == "01":
                established.add(f"socket:[{fields[9]}]")
    return [sum(os.readlink(f"/proc/{pid}/fd/{fd}") in established
                for fd in os.listdir(f"/proc/{pid}/fd")) for pid in pids]


def test_every_connection_is_answered_while_a_worker_is_stopped(two_workers):
    server, (stopped, running) = two_workers
    os.kill(stopped, signal.SIGSTOP)
    try:
        with ExitStack() as connections:
            open_answered(server, 10, connections)
            assert connections_held([stopped, running], server.port) == [0, 10]
    finally:
        os.kill(stopped, signal.SIGCONT)


def test_new_connections_go_to_the_worker_holding_fewer(two_workers):
    server, (first, second) = two_workers
    with ExitStack() as connections:
        os.kill(second, signal.SIGSTOP)
        try:
            open_answered(server, 20, connections)  # all on the first worker
        finally:
            os.kill(second, signal.SIGCONT)
        open_answered(server, 20, connections)
        held_by_first, held_by_second = connections_held([first, second], server.port)
        assert held_by_first + held_by_second == 40
        assert abs(held_by_first - held_by_second) <= ACCEPT_SLACK


def dead_pid():
    """The pid of a process that has exited."""
    return int(subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                              capture_output=True, text=True).stdout)


def test_a_worker_that_died_leaves_its_slot_free():
    loads = WorkerLoads(slots=2)
    loads.claim()
    loads.pids[1] = dead_pid()
    assert loads.claim() == 1


def test_a_dead_worker_is_not_counted_among_the_others():
    loads = WorkerLoads(slots=3)
    mine, other = loads.claim(), loads.claim()
    loads.publish(other, 7)
    loads.pids[2], loads.connections[2] = dead_pid(), 0
    assert loads.fewest_elsewhere(mine) == 7
