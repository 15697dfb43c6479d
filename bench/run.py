"""Benchmark Qingcheng Gateway, LiteLLM and Portkey over one fake upstream; prints a Markdown table.

    python bench/run.py [--targets gateway,litellm,portkey] [--quick] [--profile]

Everything listens on 127.0.0.1 only; every phase is bounded in time. Logs and the table go to
bench/results/<time>/. See bench/README.md.
"""
import argparse
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import procs
import streams

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LITELLM = BENCH / ".venv-litellm/bin/litellm"
PORTKEY = BENCH / "portkey/node_modules/@portkey-ai/gateway/build/start-server.js"
PYSPY = BENCH / ".venv-pyspy/bin/py-spy"
CHAT = {"model": "deepseek-flash", "messages": [{"role": "user", "content": "hi"}]}
FAST = {"chunks": 50, "interval": 0}
SLOW = {"chunks": 50, "interval": 0.02}
HELD = {"chunks": 30, "interval": 1.0}  # ~30 s a stream, started over 20 s: all open at once
NO_PROXY = {"NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}
GATEWAY_DATA = Path("/tmp/qcbench")
GATEWAY_DATABASE = f"sqlite:///{GATEWAY_DATA}/bench.db"
LITELLM_CONFIG = """model_list:
  - model_name: deepseek-flash
    litellm_params:
      model: openai/deepseek-flash
      api_base: {upstream}/v1
      api_key: sk-upstream-test
general_settings:
  master_key: sk-bench-master
"""


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


@dataclass
class Target:
    name: str
    process: subprocess.Popen  # its whole process tree is measured
    url: str                   # the chat completions endpoint
    headers: dict
    health: str
    model: str = "deepseek-flash"


# --- starting the targets -------------------------------------------------------------------

def launch(command, log, **options):
    env = {**os.environ, **NO_PROXY, **options.pop("env", {})}
    return subprocess.Popen([str(part) for part in command], stdout=open(log, "wb"),
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, **options)


def start_gateway(port, upstream, logs, provider="deepseek", model="deepseek-flash", **settings):
    """The gateway on a fresh database in GATEWAY_DATA; `settings` are more environment variables."""
    shutil.rmtree(GATEWAY_DATA, ignore_errors=True)
    GATEWAY_DATA.mkdir()
    env = {**os.environ, **NO_PROXY, **settings, "DATABASE_URL": GATEWAY_DATABASE,
           "DEEPSEEK_BASE_URL": f"{upstream}/v1", "DEEPSEEK_API_KEY": "sk-upstream-test",
           "ANTHROPIC_BASE_URL": upstream, "ANTHROPIC_API_KEY": "sk-upstream-test"}

    def flask(*args):
        done = subprocess.run([sys.executable, "-m", "flask", "--app", "gateway", *args], cwd=REPO,
                              env=env, capture_output=True, text=True)
        if done.returncode:
            sys.exit(f"flask {' '.join(args)} failed:\n{done.stderr[-2000:]}")
        return done.stdout

    flask("accounts", "create", "bench", "--balance", "100000000")
    key = flask("keys", "create", "bench").strip().splitlines()[-1]
    flask("prices", "set", provider, model, "--input", "1", "--cached-input", "0.02",
          "--output", "4", "--max-output", "8192")
    env["GUNICORN_CMD_ARGS"] = f"--bind 127.0.0.1:{port} --workers 2"
    process = launch([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py"],
                     logs / "gateway.log", env=env, cwd=REPO)
    name = "gateway" if provider == "deepseek" else f"gateway ({provider})"
    return Target(name, process, f"http://127.0.0.1:{port}/v1/chat/completions",
                  {"X-API-Key": key, "X-AI-Provider": provider}, f"http://127.0.0.1:{port}/healthz",
                  model)


def start_gateway_translating(port, upstream, logs):
    """The gateway in front of an Anthropic-style upstream: every answer translated to OpenAI's."""
    return start_gateway(port, upstream, logs, provider="anthropic", model="claude-bench")


def start_litellm(port, upstream, logs):
    config = logs / "litellm.yaml"
    config.write_text(LITELLM_CONFIG.format(upstream=upstream))
    # Local copies instead of fetching cost maps and header lists from the internet at start.
    env = {"LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS": "True"}
    process = launch([LITELLM, "--config", config, "--host", "127.0.0.1", "--port", port,
                      "--num_workers", "2"], logs / "litellm.log", env=env, cwd=logs)
    return Target("litellm", process, f"http://127.0.0.1:{port}/v1/chat/completions",
                  {"Authorization": "Bearer sk-bench-master"},
                  f"http://127.0.0.1:{port}/health/liveliness")


def start_portkey(port, upstream, logs):
    process = launch(["node", PORTKEY, f"--port={port}", "--headless"], logs / "portkey.log",
                     cwd=BENCH / "portkey")
    # Portkey drops unknown body fields, so the stream shape also goes as a forwarded X-Fake header.
    return Target("portkey", process, f"http://127.0.0.1:{port}/v1/chat/completions",
                  {"x-portkey-provider": "openai", "x-portkey-custom-host": f"{upstream}/v1",
                   "x-portkey-forward-headers": "x-fake", "Authorization": "Bearer x"},
                  f"http://127.0.0.1:{port}/")


STARTERS = {"gateway": start_gateway, "anthropic": start_gateway_translating,
            "litellm": start_litellm, "portkey": start_portkey}
INSTALLED = {"gateway": True, "anthropic": True, "litellm": LITELLM.exists(),
             "portkey": PORTKEY.exists()}


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(target, timeout=120):
    """Until the health URL gives any HTTP answer; fails if the target exits first."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if target.process.poll() is not None:
            sys.exit(f"{target.name} exited at start; see its log")
        try:
            opener.open(target.health, timeout=2).close()
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.5)
    sys.exit(f"{target.name} was not ready after {timeout} s")


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


# --- the table ------------------------------------------------------------------------------

ROWS = [  # label, key, how targets compare with direct
    ("added latency p50, non-stream, c=1 (ms)", "lat_p50", "added"),
    ("added latency p99, non-stream, c=1 (ms)", "lat_p99", "added"),
    ("requests/s, non-stream, c=64", "rps", "ratio"),
    ("failed requests, c=64 (non-2xx + socket errors)", "c64_failed", None),
    ("CPU ms per request, c=64 (process tree)", "cpu_per_req", "ratio"),
    ("stream TTFB added p50, c=1 (ms)", "ttfb_p50", "added"),
    ("relay streams/s, 50 chunks, c=32", "relay_sps", "ratio"),
    ("relay chunks/s, c=32", "relay_cps", "ratio"),
    ("relay failed or unfinished streams, c=32", "relay_failed", None),
    ("relay: busiest worker's share of the workers' CPU (%)", "relay_busiest", None),
    ("slow streams/s, 50 chunks 20 ms apart, c=500", "slow_sps", "ratio"),
    ("slow streams completed / failed / unfinished at the end", "slow_done", None),
    ("slow TTFB p99 (ms)", "slow_ttfb_p99", None),
    ("peak RSS, c=500 slow (MB)", "slow_rss", None),
    ("held streams (30 chunks 1 s apart, opened over 20 s): completed / failed / unfinished",
     "held_done", None),
    ("held streams: TTFB p99 (ms)", "held_ttfb_p99", None),
    ("peak RSS, held streams (MB)", "held_rss", None),
    ("CPU used by other processes meanwhile (cores; should be ~0)", "others", None),
]


def number(value):
    if value is None:
        return "n/a"
    if isinstance(value, (str, int)):
        return str(value)
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"


def cell(value, direct, how):
    if how is None or value is None or direct is None:
        return number(value)
    if how == "added":
        return "+" + number(value - direct) if value >= direct else number(value - direct)
    if not direct:
        return number(value)
    ratio = value / direct
    return f"{number(value)} ({ratio:.0f}×)" if ratio >= 10 else f"{number(value)} ({ratio:.2g}×)"


def render(results, d):
    names = list(results)
    lines = ["| metric | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]
    for label, key, how in ROWS:
        direct = results["direct"][key]
        cells = [number(direct)] + [cell(results[n][key], direct, how) for n in names[1:]]
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append(f"\nPhases (s): latency {d.latency}, c=64 {d.c64}, TTFB {d.ttfb}, relay {d.relay}, "
                 f"slow {d.slow}; {d.held} held streams. 'added' rows: direct shows its own value, targets the excess over "
                 f"it; (N×) is the ratio to direct.")
    return "\n".join(lines)


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
