"""How many connections each gunicorn worker holds, in memory that all the workers share, so that a
worker holding clearly more than another leaves the next connection to that one (gevent_worker.py).

All workers wait on one listening socket, and whichever calls accept() first takes the connection,
whatever it already holds: new connections alternate between two workers even when one holds ten
more, and a keep-alive pool opened while one worker was busy (the benchmark's 32 connections,
nginx's upstream `keepalive`, an SDK's pool) stays on the other, which then does every request
while the first idles (tests/test_worker_loads.py).

One slot per worker: the pid that owns it (0 when free) and the connections it holds. The master
hands out slots before each fork; a slot whose process has died is free again, so a worker that
was killed leaves nothing behind.
"""
import mmap
import os

SLOTS = 64


class WorkerLoads:

    def __init__(self, slots=SLOTS):
        # Anonymous and shared: made in the master, the same memory in every worker it forks.
        memory = mmap.mmap(-1, 16 * slots)
        self.pids = memoryview(memory)[:8 * slots].cast("q")
        self.connections = memoryview(memory)[8 * slots:].cast("q")

    def claim(self):
        """In the master, before a fork: a free slot for the worker about to start, or None. It is
        the master's until the worker `occupy`s it, so that the next fork cannot take it too."""
        for slot, pid in enumerate(self.pids):
            if pid == 0 or not alive(pid):
                self.pids[slot], self.connections[slot] = os.getpid(), 0
                return slot
        return None

    def occupy(self, slot):
        self.pids[slot] = os.getpid()

    def leave(self, slot):
        self.pids[slot], self.connections[slot] = 0, 0

    def publish(self, slot, connections):
        self.connections[slot] = connections

    def fewest_elsewhere(self, slot):
        """The fewest connections a live worker other than `slot`'s holds, or None."""
        held = [self.connections[other] for other, pid in enumerate(self.pids)
                if pid and other != slot and alive(pid)]
        return min(held, default=None)


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
