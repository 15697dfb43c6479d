"""What `pip install .` gives a newcomer: every module, the pages' files, gunicorn's gevent extra,
and a server that works from any working directory."""
import os
import subprocess
import sys
import time

import pytest
import requests
from setuptools.config.setupcfg import read_configuration

from helpers import MODEL, ROOT, UPSTREAM_KEY, free_port


def test_every_top_level_module_is_listed_for_installation():
    listed = set(read_configuration(ROOT / "setup.cfg")["options"]["py_modules"])
    on_disk = {path.stem for path in ROOT.glob("*.py")} - {"gunicorn.conf"}
    assert listed == on_disk


@pytest.mark.slow
def test_a_non_editable_install_serves_pages_static_files_and_chat_from_another_directory(
        tmp_path, upstream):
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "pip"), "install", "-q", str(ROOT)], check=True,
                   cwd=tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    port = free_port()
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{elsewhere / 'gateway.db'}",
           "DEEPSEEK_API_KEY": UPSTREAM_KEY, "DEEPSEEK_BASE_URL": upstream.url,
           "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "PYTHONPATH": "",
           "GUNICORN_CMD_ARGS": f"--bind 127.0.0.1:{port} --workers 1"}

    def flask(*args):
        return subprocess.run(["flask", "--app", "gateway", *args], cwd=elsewhere, env=env,
                              check=True, capture_output=True, text=True).stdout

    flask("prices", "set", "deepseek", MODEL, "--input", "2", "--cached-input", "0.5",
          "--output", "8", "--max-output", "1000")
    catalogue = subprocess.run([str(venv / "bin" / "python"), "-c", "import pathlib, providers; print("
                                "(pathlib.Path(providers.__file__).parent / 'catalogue.toml').read_text())"],
                               cwd=elsewhere, env=env, check=True, capture_output=True, text=True).stdout
    assert catalogue == (ROOT / "providers" / "catalogue.toml").read_text() + "\n"
    flask("accounts", "create", "newcomer", "--balance", "5")
    token = flask("keys", "create", "newcomer").strip().splitlines()[-1]
    server = subprocess.Popen(["gunicorn", "-c", str(ROOT / "gunicorn.conf.py")], cwd=elsewhere,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_up(base, server)
        for path in ("/", "/signin", "/static/site.css", "/static/site.js", "/openapi.json"):
            assert requests.get(base + path, timeout=5).status_code == 200, path
        assert "找不到这个页面" in requests.get(base + "/no-such-page", timeout=5).text
        answer = requests.post(base + "/v1/chat/completions", timeout=10,
                               headers={"X-API-Key": token, "X-AI-Provider": "deepseek"},
                               json={"model": MODEL, "messages": [{"role": "user", "content": "hi"}]})
        assert answer.status_code == 200, answer.text
        assert answer.json()["choices"][0]["message"]["content"]
    finally:
        server.terminate()
        try:
            server.wait(40)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(5)


def wait_until_up(base, server, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert server.poll() is None, "gunicorn exited"
        try:
            if requests.get(base + "/healthz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.2)
    raise AssertionError("gunicorn did not start")
