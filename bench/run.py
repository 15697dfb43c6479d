"""Benchmark Qingcheng Gateway, LiteLLM and Portkey over one fake upstream; prints a Markdown table.

    python bench/run.py [--targets gateway,litellm,portkey] [--quick] [--profile]

Everything listens on 127.0.0.1 only; every phase is bounded in time. Logs and the table go to
bench/results/<time>/. See bench/README.md.
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass

import procs
import streams
from table import render
from targets import BENCH, INSTALLED, STARTERS, Target, free_port, launch, wait_ready

PYSPY = BENCH / ".venv-pyspy/bin/py-spy"
CHAT = {"model": "deepseek-flash", "messages": [{"role": "user", "content": "hi"}]}
FAST = {"chunks": 50, "interval": 0}
SLOW = {"chunks": 50, "interval": 0.02}
HELD = {"chunks": 30, "interval": 1.0}  # ~30 s a stream, started over 20 s: all open at once


@dataclass(frozen=True)
class Durations:
    """Seconds per phase."""
    warmup: float
    latency: float
    c64: float
    ttfb: float
    relay: float
    slow: float
    held: int  # streams held open at once


FULL = Durations(warmup=2, latency=5, c64=10, ttfb=5, relay=10, slow=10, held=10000)
QUICK = Durations(warmup=1, latency=2, c64=3, ttfb=2, relay=3, slow=3, held=2000)


# --- load ---------------------------------------------------------------------------------

def wrk(target, connections, seconds):
    """Non-streaming load with wrk; the summary its Lua script prints."""
    env = {**os.environ, "BENCH_BODY": json.dumps({**CHAT, "model": target.model, "max_tokens": 16}),
           "BENCH_HEADERS": "\n".join(f"{k}: {v}" for k, v in target.headers.items())}
    out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "10s",
                          "-s", BENCH / "post.lua", target.url],
                         env=env, capture_output=True, text=True, timeout=seconds + 30).stdout
    return json.loads(next(line[6:] for line in out.splitlines() if line.startswith("BENCH ")))


def stream(target, concurrency, fake, seconds, grace=5.0, ramp=0.0):
    messages = [{"role": "user", "content": json.dumps({"fake": fake})}]  # read by the Anthropic fake
    body = json.dumps({**CHAT, "model": target.model, "messages": messages, "max_tokens": 64,
                       "stream": True, "fake": fake}).encode()
    return streams.run(target.url, {**target.headers, "X-Fake": json.dumps(fake)}, body,
                       concurrency, seconds, grace, ramp)


class WorkerShares:
    """The busiest child process's share of the CPU that the children of `root` used meanwhile,
    in %: 50 is an even split over 2 workers, 100 one worker doing everything."""

    def __init__(self, root):
        self.workers = procs.tree(root)[1:]
        self.busiest = None

    def __enter__(self):
        self.before = [procs.cpu_ms(pid) for pid in self.workers]
        return self

    def __exit__(self, *_):
        used = [procs.cpu_ms(pid) - before for pid, before in zip(self.workers, self.before)]
        if len(used) > 1 and sum(used) > 0:
            self.busiest = 100 * max(used) / sum(used)


class PeakRss(threading.Thread):
    """Samples the summed RSS of a process tree until `done` is set."""

    def __init__(self, root):
        super().__init__(daemon=True)
        self.root, self.peak, self.done = root, 0.0, threading.Event()

    def run(self):
        while not self.done.wait(0.2):
            self.peak = max(self.peak, procs.rss_mb(self.root))

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_):
        self.done.set()
        self.join()


def percentile(values, q):
    values = sorted(v for v in values if v is not None)
    return values[min(len(values) - 1, int(q / 100 * len(values)))] * 1000 if values else None


def measure(target, upstream, d, logs, profile=False):
    """Every row of the table for one target, and how busy other processes kept the machine."""
    pids = {target.process.pid, upstream.pid}
    before = cpu_snapshot(pids)
    rows = {**measure_requests(target, d, logs, profile), **measure_streams(target, d)}
    wall, busy, ours = (b - a for a, b in zip(before, cpu_snapshot(pids)))
    return {**rows, "others": (busy - ours) / wall}


def cpu_snapshot(pids):
    """(wall ms, CPU ms of the whole machine, CPU ms of the trees of `pids` and of this bench)."""
    return (time.monotonic() * 1000, procs.machine_busy_ms(),
            procs.own_cpu_ms() + sum(procs.cpu_ms(pid) for pid in pids))


def say(target, phase):
    print(f"  {target.name}: {phase}", file=sys.stderr, flush=True)


def measure_requests(target, d, logs, profile):
    say(target, "warm-up")
    wrk(target, 8, d.warmup)
    say(target, "latency, c=1")
    latency = wrk(target, 1, d.latency)
    say(target, "throughput, c=64")
    spies = start_profilers(target, d.c64, logs) if profile else []
    cpu_before = procs.cpu_ms(target.process.pid)
    load = wrk(target, 64, d.c64)
    cpu = procs.cpu_ms(target.process.pid) - cpu_before
    for spy in spies:
        spy.wait(timeout=d.c64 + 30)
    ok = load["requests"] - load["non2xx"]
    return {"lat_p50": latency["p50_us"] / 1000, "lat_p99": latency["p99_us"] / 1000,
            "rps": ok / (load["duration_us"] / 1e6), "c64_failed": load["non2xx"] + load["errors"],
            "cpu_per_req": cpu / ok if ok else None}


def measure_streams(target, d):
    say(target, "stream TTFB, c=1")
    ttfb = stream(target, 1, FAST, d.ttfb)
    say(target, "relay, c=32")
    with WorkerShares(target.process.pid) as shares:
        relay = stream(target, 32, FAST, d.relay)
    say(target, "slow streams, c=500")
    with PeakRss(target.process.pid) as slow_rss:
        slow = stream(target, 500, SLOW, d.slow)
    say(target, f"{d.held} held streams")
    with PeakRss(target.process.pid) as held_rss:
        # One stream a connection, the connections opened over 20 s: from then on, all are open.
        held = stream(target, d.held, HELD, 1, grace=35, ramp=20)
    return {"ttfb_p50": percentile(ttfb.ttfbs, 50),
            "relay_sps": relay.streams_per_s, "relay_cps": relay.events_per_s,
            "relay_failed": relay.failed + relay.cut, "relay_busiest": shares.busiest,
            "slow_sps": slow.streams_per_s, "slow_done": f"{slow.completed} / {slow.failed} / {slow.cut}",
            "slow_ttfb_p99": percentile(slow.ttfbs, 99), "slow_rss": slow_rss.peak,
            "held_done": f"{held.completed} / {held.failed} / {held.cut}",
            "held_ttfb_p99": percentile(held.ttfbs, 99), "held_rss": held_rss.peak}


# --- profiling (optional) -------------------------------------------------------------------

def start_profilers(target, seconds, logs):
    """py-spy on each gateway worker (collapsed stacks), for the c=64 phase."""
    if not target.name.startswith("gateway"):
        return []
    workers = procs.tree(target.process.pid)[1:]
    return [subprocess.Popen([PYSPY, "record", "--nonblocking", "--pid", str(pid), "--duration",
                              str(int(seconds)), "--format", "raw", "-o", logs / f"pyspy-{pid}.txt"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            for pid in workers]


def top_frames(logs, count=15):
    """The functions where the profiled workers spent the most samples (self time)."""
    leaves, total = Counter(), 0
    for path in logs.glob("pyspy-*.txt"):
        for line in path.read_text().splitlines():
            stack, _, samples = line.rpartition(" ")
            leaves[stack.rsplit(";", 1)[-1]] += int(samples)
            total += int(samples)
    return "\n".join(f"{n / total:6.1%}  {frame}" for frame, n in leaves.most_common(count))


# --- main -----------------------------------------------------------------------------------

def options():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default=",".join(n for n, ok in INSTALLED.items() if ok))
    parser.add_argument("--quick", action="store_true", help="shorter phases")
    parser.add_argument("--profile", action="store_true",
                        help="py-spy the gateway workers during the c=64 phase (bash bench/setup.sh)")
    args = parser.parse_args()
    args.targets = [n for n in args.targets.split(",") if n]
    for name in args.targets:
        if name not in STARTERS or not INSTALLED[name]:
            parser.error(f"unknown or not installed target {name!r} (run bash bench/setup.sh)")
    if args.profile and not PYSPY.exists():
        parser.error("--profile needs py-spy: bash bench/setup.sh")
    return args


def main():
    args = options()
    durations = QUICK if args.quick else FULL
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 500 streams need ~1500 descriptors
    logs = BENCH / "results" / time.strftime("%Y%m%d-%H%M%S")
    logs.mkdir(parents=True)
    port = free_port()
    upstream = f"http://127.0.0.1:{port}"
    fake = launch([sys.executable, BENCH / "fake_upstream.py", port], logs / "fake_upstream.log")
    running = [fake]
    try:
        direct = Target("direct", fake, f"{upstream}/v1/chat/completions", {}, upstream + "/")
        wait_ready(direct)
        results = {"direct": measure(direct, fake, durations, logs)}
        for name in args.targets:
            target = STARTERS[name](free_port(), upstream, logs)
            running.append(target.process)
            wait_ready(target)
            results[name] = measure(target, fake, durations, logs, args.profile)
            procs.stop(target.process)
            running.remove(target.process)
    finally:
        for process in running:
            procs.stop(process)
    table = render(results, durations)
    (logs / "table.md").write_text(table + "\n")
    print(table)
    if args.profile:
        print("\nTop gateway frames (self time) during c=64:\n" + top_frames(logs))
    print(f"\nLogs: {logs}", file=sys.stderr)


if __name__ == "__main__":
    main()
