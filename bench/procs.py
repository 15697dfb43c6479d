"""Process trees from /proc: CPU time, resident memory, and stopping what the bench started."""
import os
import signal
import time

TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _stat(pid):
    """The fields of /proc/<pid>/stat after the command name (field 3, `state`, is [0])."""
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()


def tree(root):
    """`root` and all its live descendants."""
    children = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                children.setdefault(int(_stat(entry)[1]), []).append(int(entry))
            except OSError:
                continue
    pids, todo = [], [root]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo += children.get(pid, [])
    return pids


def cpu_ms(root):
    """User + system CPU time of the whole tree, in ms."""
    total = 0
    for pid in tree(root):
        try:
            fields = _stat(pid)
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total * TICK_MS


def machine_busy_ms():
    """User + nice + system time of all CPUs since boot, in ms (interrupt time not included)."""
    with open("/proc/stat") as f:
        user, nice, system = map(int, f.readline().split()[1:4])
    return (user + nice + system) * TICK_MS


def own_cpu_ms():
    """This process's CPU time, with that of its children it has waited for, in ms."""
    times = os.times()
    return (times.user + times.system + times.children_user + times.children_system) * 1000


def rss_mb(root):
    """Sum of VmRSS over the tree, in MB."""
    total_kb = 0
    for pid in tree(root):
        try:
            with open(f"/proc/{pid}/status") as f:
                total_kb += next((int(line.split()[1]) for line in f if line.startswith("VmRSS:")), 0)
        except OSError:
            continue
    return total_kb / 1024


def _alive(pid):
    try:
        return _stat(pid)[0] != "Z"
    except OSError:
        return False


def stop(process, timeout=10.0):
    """SIGTERM the tree of a Popen we started (by PID), then SIGKILL whatever is left."""
    pids = tree(process.pid)
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (process.poll() is None or any(map(_alive, pids))):
            time.sleep(0.1)
        pids = [pid for pid in pids if _alive(pid)]
        if not pids and process.poll() is not None:
            return
