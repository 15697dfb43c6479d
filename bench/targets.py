"""Starting what the benchmark measures (bench/run.py): Qingcheng Gateway on a fresh database,
LiteLLM and Portkey, each on a free port in front of the fake upstream, and waiting until it answers."""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
LITELLM = BENCH / ".venv-litellm/bin/litellm"
PORTKEY = BENCH / "portkey/node_modules/@portkey-ai/gateway/build/start-server.js"
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




@dataclass
class Target:
    name: str
    process: subprocess.Popen  # its whole process tree is measured
    url: str                   # the chat completions endpoint
    headers: dict
    health: str
    model: str = "deepseek-flash"


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


def start_floor(port, upstream, logs):
    """Flask and requests alone, under the gateway's gunicorn settings (floor_app.py)."""
    process = launch([sys.executable, "-m", "gunicorn", "-k", "gevent", "--workers", "2",
                      "--worker-connections", "10000", "--bind", f"127.0.0.1:{port}", "floor_app:app"],
                     logs / "floor.log", env={"FLOOR_UPSTREAM": upstream}, cwd=BENCH)
    return Target("floor", process, f"http://127.0.0.1:{port}/v1/chat/completions", {},
                  f"http://127.0.0.1:{port}/")


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
            "floor": start_floor, "litellm": start_litellm, "portkey": start_portkey}
INSTALLED = {"gateway": True, "anthropic": True, "floor": True, "litellm": LITELLM.exists(),
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
