"""Instructions a chat completion costs the gateway: `python bench/instructions.py [--requests 100]`.

Timed CPU on this kind of machine moves by a third from one hour to the next; instructions counted
by valgrind move by under half a percent between runs, so two builds compare closely. The gateway
runs in this process (no gunicorn, no other request at the same time: the request's own work,
from the WSGI call to its settlement) on a fresh SQLite file, in front of the fast fake upstream.
valgrind counts the whole process twice, with N and 3N requests after a warm-up; the difference
over 2N is one request's count. Needs valgrind (`apt-get install valgrind`); about two minutes.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
BODY = json.dumps({"model": "deepseek-flash", "messages": [{"role": "user", "content": "hi"}],
                   "max_tokens": 16}).encode()


def serve_requests(count):
    """In the process valgrind counts: the app, a key and a price, then `count` requests."""
    sys.path.insert(0, str(REPO))
    import gateway
    from models import ApiKey, Price
    from money import create_account
    from werkzeug.test import EnvironBuilder
    app = gateway.create_app()
    with app.app_context():
        Price.set("deepseek", "deepseek-flash", input=1_000_000, cached_input=20_000, output=4_000_000,
                  max_output=8192)
        _, token = ApiKey.issue(create_account("bench", balance=10 ** 12), label="bench")
    headers = {"X-API-Key": token, "X-AI-Provider": "deepseek", "Content-Type": "application/json"}
    for _ in range(50 + count):  # the first 50 warm the caches and the connection pool
        environ = EnvironBuilder(path="/v1/chat/completions", method="POST", data=BODY,
                                 headers=headers).get_environ()
        statuses = []
        answer = app.wsgi_app(environ, lambda status, headers: statuses.append(status))
        b"".join(answer)
        answer.close()
        assert statuses[0].startswith("200"), statuses


def counted(count, upstream, data):
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{data}/{count}.db", "NO_PROXY": "127.0.0.1",
           "DEEPSEEK_BASE_URL": f"{upstream}/v1", "DEEPSEEK_API_KEY": "sk-upstream-test"}
    done = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={data}/{count}.out",
                           sys.executable, __file__, "--serve", str(count)],
                          env=env, capture_output=True, text=True, timeout=1800)
    found = re.search(r"Collected : (\d+)", done.stderr)
    if done.returncode or not found:
        sys.exit(f"valgrind failed:\n{done.stderr[-3000:]}")
    return int(found.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        return serve_requests(args.serve)
    sys.path.insert(0, str(BENCH))
    import procs
    import run
    port = run.free_port()
    fake = run.launch([sys.executable, BENCH / "fake_upstream.py", port], os.devnull)
    try:
        run.wait_ready(run.Target("direct", fake, "", {}, f"http://127.0.0.1:{port}/"))
        with tempfile.TemporaryDirectory() as data:
            few, more = (counted(n, f"http://127.0.0.1:{port}", data)
                         for n in (args.requests, 3 * args.requests))
    finally:
        procs.stop(fake)
    print(f"{(more - few) / (2 * args.requests) / 1e6:.3f} million instructions a request")


if __name__ == "__main__":
    main()
