"""What one failover costs: `python bench/failover.py [--seconds 10]`.

The gateway (2 gevent workers, SQLite) in front of the fast fake upstream, measured with `wrk -c1`
on non-streaming requests twice: with its one channel (DEEPSEEK_API_KEY), then with a channel of
higher priority added whose upstream refuses connections (a closed port on 127.0.0.1), so that
every request fails over once. Cool-downs are turned off (CHANNEL_FAILURES_TO_COOL) so that the
failing channel is tried every time. The difference is the failover's own cost: one refused
connection, recording the failure (a write transaction), and the second attempt.
"""
import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import procs  # noqa: E402
import run  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=int, default=10)
    seconds = parser.parse_args().seconds
    logs = BENCH / "results" / time.strftime("failover-%Y%m%d-%H%M%S")
    logs.mkdir(parents=True)
    port = run.free_port()
    upstream = f"http://127.0.0.1:{port}"
    fake = run.launch([sys.executable, BENCH / "fake_upstream.py", port], logs / "fake_upstream.log")
    running = [fake]
    try:
        run.wait_ready(run.Target("direct", fake, "", {}, upstream + "/"))
        target = run.start_gateway(run.free_port(), upstream, logs,
                                   CHANNEL_FAILURES_TO_COOL="1000000000")
        running.append(target.process)
        run.wait_ready(target)
        run.wrk(target, 1, 2)  # warm-up
        once = run.wrk(target, 1, seconds)
        add_failing_channel()
        run.wrk(target, 1, 2)
        failing_over = run.wrk(target, 1, seconds)
    finally:
        for process in running:
            procs.stop(process)
    rows = [("one channel", once), ("a refused channel first", failing_over)]
    print("| requests | p50 (ms) | p99 (ms) | requests/s, c=1 |\n|---|---|---|---|")
    for name, result in rows:
        print(f"| {name} | {result['p50_us'] / 1000:.2f} | {result['p99_us'] / 1000:.2f} | "
              f"{result['requests'] / (result['duration_us'] / 1e6):.0f} |")
    print(f"\nOne failover adds {(failing_over['p50_us'] - once['p50_us']) / 1000:.2f} ms at p50. "
          f"Logs: {logs}", file=sys.stderr)


def add_failing_channel():
    """A channel tried before the working one, at a port nothing listens on; at once, everywhere."""
    subprocess.run([sys.executable, "-m", "flask", "--app", "gateway", "channels", "add", "deepseek",
                    "--name", "refusing", "--priority", "1", "--base-url",
                    f"http://127.0.0.1:{run.free_port()}/v1", "--api-key-stdin"],
                   input="sk-refused-0123456789\n", text=True, check=True, capture_output=True,
                   cwd=run.REPO, env={**os.environ, "DATABASE_URL": run.GATEWAY_DATABASE})


if __name__ == "__main__":
    main()
