"""The gateway under real gunicorn (gevent workers), used the way the README tells people to."""
import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
import requests

from helpers import (ROOT, chat, event_arrivals, expected_cost, headers, sse_data, sse_json,
                     wait_until_settled)


def readme_example(name):
    """The code block the README marks `<!-- example: name -->`."""
    text = (ROOT / "README.md").read_text()
    return re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)```", text, re.S).group(1)


def run_example(name, server, token, command):
    code = readme_example(name).replace("http://localhost:9090", server.url)
    return subprocess.run(command + [code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "QINGCHENG_API_KEY": token})


def test_readme_curl_example_streams_event_by_event(server, bank, upstream):
    account = bank.account("10")
    result = run_example("curl", server, bank.key(account), ["bash", "-c"])
    assert result.returncode == 0, result.stderr
    assert sse_data(result.stdout)[-1] == "[DONE]"
    assert "".join(c["choices"][0]["delta"].get("content") or "" for c in sse_json(result.stdout)) \
        == "你好，世界！Hello 🌍"
    assert bank.charges(account) == [-expected_cost(completion=13)]


def test_readme_first_minute_loads_the_catalogue_and_makes_a_key(tmp_path):
    setup = readme_example("setup").replace("sqlite:///qingcheng.db", f"sqlite:///{tmp_path / 'first.db'}")
    script = setup + "flask --app gateway prices export\necho \"key: $QINGCHENG_API_KEY\"\n"
    result = subprocess.run(["bash", "-ec", script], cwd=ROOT, capture_output=True, text=True, timeout=120,
                            env={key: value for key, value in os.environ.items() if key != "DATABASE_URL"})
    assert result.returncode == 0, result.stderr
    assert '[deepseek."deepseek-flash"]\ninput = 2\ncached_input = 0.04\noutput = 8\n' in result.stdout
    assert re.search(r"^key: sk-qc-\S{32,}$", result.stdout, re.M)


def test_readme_python_example_prints_the_answer(server, bank, upstream):
    result = run_example("python", server, bank.key(), [sys.executable, "-c"])
    assert (result.returncode, result.stdout) == (0, "你好，世界！Hello 🌍\n"), result.stderr


def test_readme_openai_sdk_example_streams_the_answer(server, bank, upstream):
    account = bank.account("10")
    result = run_example("openai", server, bank.key(account), [sys.executable, "-c"])
    assert (result.returncode, result.stdout) == (0, "你好，世界！Hello 🌍\n"), result.stderr
    assert bank.charges(account) == [-expected_cost(completion=13)]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_readme_javascript_fetch_example_prints_the_answer(server, bank, upstream):
    result = run_example("javascript", server, bank.key(), ["node", "--input-type=module", "-e"])
    assert (result.returncode, result.stdout) == (0, "你好，世界！Hello 🌍\n"), result.stderr


def test_openai_sdk_non_streaming_reports_usage(server, bank, upstream):
    from openai import OpenAI
    client = OpenAI(base_url=server.url + "/v1", api_key=bank.key(),
                    default_headers={"X-AI-Provider": "deepseek"})
    answer = client.chat.completions.create(model="deepseek-flash",
                                            messages=[{"role": "user", "content": "hi"}])
    assert answer.choices[0].message.content == "你好，世界！Hello 🌍"
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens) == (12, 13)


def test_openai_sdk_sees_the_documented_errors(server, bank, upstream):
    import openai
    client = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-qc-" + "0" * 43, max_retries=0,
                           default_headers={"X-AI-Provider": "deepseek"})
    with pytest.raises(openai.AuthenticationError) as raised:
        client.chat.completions.create(model="deepseek-flash", messages=[{"role": "user", "content": "hi"}])
    assert raised.value.code == "invalid_api_key"
    assert raised.value.request_id.startswith("req_")


def test_events_reach_the_client_as_the_upstream_sends_them(server, bank, upstream):
    arrivals = event_arrivals(server.url, bank.key(), {"chunks": 5, "interval": 0.3})
    assert len(arrivals) == 7  # role chunk, 5 content chunks, [DONE]
    assert arrivals[1] < 0.6 < arrivals[-1]


def test_keep_alive_comments_flow_while_the_upstream_is_silent(server, bank, upstream):
    body = chat(stream=True, fake={"chunks": 2, "stall": 1.6})
    response = requests.post(server.url + "/v1/chat/completions", json=body,
                             headers=headers(bank.key()), timeout=10)
    assert response.text.count(": keep-alive") >= 2
    assert sse_data(response.text)[-1] == "[DONE]"


def test_abandoned_stream_closes_the_upstream_and_charges_what_was_relayed(server, bank, upstream):
    account = bank.account("10")
    body = chat(stream=True, fake={"chunks": 200, "interval": 0.02})
    with requests.post(server.url + "/v1/chat/completions", json=body,
                       headers=headers(bank.key(account)), stream=True, timeout=10) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(10)]  # 5 events: role chunk + 4 content chunks
    assert len([line for line in received if line.startswith(b"data:")]) == 5
    stats = upstream.wait_for(lambda s: s["closed_by_client"] == 1 and s["open_streams"] == 0)
    assert stats["closed_by_client"] == 1 and stats["completed_streams"] == 0
    row = wait_until_settled(account)
    assert (row.state, row.status, row.usage_estimated) == ("settled", 499, True)
    assert 4 <= row.completion_tokens <= 12  # what gunicorn had written when the client left
    assert bank.charges(account) == [-row.cost] and row.cost < row.hold
    bank.assert_consistent()


def test_reset_mid_stream_ends_with_an_error_event_and_charges_what_was_relayed(server, bank, upstream):
    account = bank.account("10")
    response = requests.post(server.url + "/v1/chat/completions", json=chat(stream=True, fake={
        "chunks": 10, "reset_after": 4}), headers=headers(bank.key(account)), timeout=10)
    events = sse_json(response.text)
    assert events[-1]["error"]["code"] == "upstream_error"
    assert response.text.endswith("\n\n")
    row = wait_until_settled(account)
    assert (row.status, row.completion_tokens, row.usage_estimated) == (502, 5, True)
    bank.assert_consistent()


def test_body_over_the_limit_gets_the_json_413(server, bank, upstream):
    payload = b'{"model": "deepseek-flash", "messages": [{"role": "user", "content": "' \
              + b"x" * (5 * 1024 * 1024) + b'"}]}'
    response = requests.post(server.url + "/v1/chat/completions", data=payload,
                             headers={**headers(bank.key()), "Content-Type": "application/json"},
                             timeout=10)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert upstream.stats()["requests"] == 0


def chunks(body, size=64 * 1024):
    """`body` sent chunked: requests sends a generator with no Content-Length."""
    return (body[start:start + size] for start in range(0, len(body), size))


def test_a_chunked_body_over_the_limit_gets_the_json_413(server, bank, upstream):
    account = bank.account("10")
    payload = json.dumps(chat("x" * (4 * 1024 * 1024))).encode()
    response = requests.post(server.url + "/v1/chat/completions", data=chunks(payload), timeout=10,
                             headers={**headers(bank.key(account)), "Content-Type": "application/json"})
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "request_too_large"
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []


def test_a_chunked_body_within_the_limit_is_served(server, bank, upstream):
    account = bank.account("10")
    response = requests.post(server.url + "/v1/chat/completions", timeout=10,
                             data=chunks(json.dumps(chat()).encode(), size=7),
                             headers={**headers(bank.key(account)), "Content-Type": "application/json"})
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 200 and response.json()["usage"]["completion_tokens"] == 13
    assert bank.charges(account) == [-expected_cost(completion=13)]


def test_an_oversized_header_gets_the_json_431(server, bank, upstream):
    response = requests.post(server.url + "/v1/chat/completions", json=chat(), timeout=10,
                             headers={**headers(bank.key()), "X-Padding": "x" * 10_000})
    assert response.status_code == 431
    assert response.json()["error"]["code"] == "request_header_too_large"
    assert upstream.stats()["requests"] == 0


def test_no_key_reaches_the_log(server, bank, upstream):
    token = bank.key()
    requests.post(server.url + "/v1/chat/completions", json=chat(), headers=headers(token), timeout=10)
    requests.post(server.url + "/v1/chat/completions", json=chat(),
                  headers={"Authorization": f"Bearer {token}x"}, timeout=10)
    time.sleep(0.2)
    log = server.log_text()
    assert "POST /v1/chat/completions" in log
    assert token not in log and "sk-upstream-operator-secret" not in log

