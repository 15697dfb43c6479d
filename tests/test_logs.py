"""The logs, as README "Operations" tells them: one line per API request with what it did; a line
for every upstream failure, cool-down and automatic disable; every line with its time, level and
request id, gunicorn's too; LOG_FORMAT=json, one object a line; never a key, a prompt or an answer."""
import json
import re

import pytest
import requests

from helpers import (MODEL, UPSTREAM_KEY, GatewayServer, add_channel, chat, fake_upstreams, fresh,
                     headers, sse_data, wait_until)
from models import KEY_DISPLAY_LENGTH

CHAT = "/v1/chat/completions"


def lines(caplog, message):
    return [record.fields for record in caplog.records if record.getMessage() == message]


def test_a_request_line_tells_what_the_request_did(client, bank, caplog):
    account = bank.account("10")
    token = bank.key(account)
    response = client.post(CHAT, json=chat(), headers={**headers(token), "X-Request-ID": "trace-1"})
    assert response.status_code == 200
    [row] = bank.requests(account)
    [record] = [r for r in caplog.records if r.getMessage() == "request"]
    assert record.request_id == "trace-1"
    assert record.fields == {
        "path": CHAT, "account": account.id, "key": token[:KEY_DISPLAY_LENGTH], "provider": "deepseek",
        "channel": "deepseek", "model": MODEL, "stream": False, "status": 200,
        "prompt_tokens": row.prompt_tokens, "cached_tokens": row.cached_tokens,
        "completion_tokens": row.completion_tokens, "cost": f"0.{row.cost:06d}",
        "ms": record.fields["ms"], "upstream_ms": row.upstream_ms, "attempts": 1, "limit": "-"}
    assert record.fields["ms"] >= 0 and row.cost > 0


def test_a_stream_is_logged_once_when_it_settles(client, bank, caplog):
    account = bank.account("10")
    response = client.post(CHAT, json=chat(stream=True, fake={"chunks": 3}),
                           headers=headers(bank.key(account)))
    assert sse_data(response.get_data(as_text=True))[-1] == "[DONE]"
    [row] = bank.requests(account)
    [line] = lines(caplog, "request")
    assert (line["stream"], line["status"], line["completion_tokens"]) == (True, 200, row.completion_tokens)


def test_a_request_refused_by_a_rate_limit_names_the_limit(client, bank, caplog):
    token = bank.key(concurrency=1, rpm=1)
    client.post(CHAT, json=chat(), headers=headers(token))
    assert client.post(CHAT, json=chat(), headers=headers(token)).status_code == 429
    assert [(line["status"], line["limit"]) for line in lines(caplog, "request")] == \
        [(200, "-"), (429, "rpm")]


@pytest.fixture(scope="module")
def fleet():
    with fake_upstreams(2) as started:
        yield started


def test_an_upstream_failure_is_logged_with_its_channel_and_reason(app, client, bank, fleet, caplog):
    alpha, bravo = fresh(app, fleet)
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(status=503)
    assert client.post(CHAT, json=chat(), headers=headers(bank.key())).status_code == 200
    assert lines(caplog, "upstream failure") == [
        {"channel": "first", "reason": "server_error", "detail": "HTTP 503 invalid_request_error",
         "status": 502}]
    [line] = lines(caplog, "request")
    assert (line["channel"], line["attempts"]) == ("second", 2)


def test_failures_in_a_row_log_the_cool_down(app, client, bank, fleet, caplog):
    alpha, _ = fresh(app, fleet)
    add_channel(app, "flaky", alpha)
    alpha.behave(status=500)
    token = bank.key()
    for _ in range(app.config["CHANNEL_FAILURES_TO_COOL"]):
        assert client.post(CHAT, json=chat(), headers=headers(token)).status_code == 502
    assert lines(caplog, "channel cooling down") == [
        {"channel": "flaky", "seconds": app.config["CHANNEL_COOLDOWN_SECONDS"],
         "failures": app.config["CHANNEL_FAILURES_TO_COOL"]}]


def test_the_operator_is_told_when_told_so_the_caller(app, client, bank, fleet, caplog):
    alpha, _ = fresh(app, fleet)
    add_channel(app, "broke", alpha)
    alpha.behave(status=402, message="Insufficient Balance")
    response = client.post(CHAT, json=chat(), headers=headers(bank.key()))
    assert response.status_code == 502 and "the operator has been told" in response.json["error"]["message"]
    [disabled] = [r for r in caplog.records if r.getMessage().startswith("channel disabled automatically")]
    assert disabled.levelname == "ERROR"
    assert disabled.fields == {"channel": "broke", "reason": "HTTP 402 invalid_request_error"}
    assert lines(caplog, "upstream failure")[0]["reason"] == "refused"


# --- under gunicorn ------------------------------------------------------------------------------

TIME_LEVEL_PID = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z (INFO|WARNING|ERROR|CRITICAL|DEBUG) \[\d+\] "


def test_the_access_line_carries_time_and_request_id(server, bank):
    requests.post(server.url + CHAT, json=chat(), timeout=10,
                  headers={**headers(bank.key()), "X-Request-ID": "trace-access-7"})
    access = re.compile(TIME_LEVEL_PID + r'trace-access-7 127\.0\.0\.1 "POST /v1/chat/completions ',
                        re.MULTILINE)
    assert wait_until(lambda: access.search(server.log_text()))  # written once the answer is sent
    log = server.log_text()
    assert re.search(TIME_LEVEL_PID + r"trace-access-7 request path=/v1/chat/completions .* status=200 ",
                     log, re.MULTILINE)
    assert all(re.match(TIME_LEVEL_PID, line) for line in log.splitlines() if line[:1].isdigit())


@pytest.fixture(scope="module")
def json_server(database, upstream_server, tmp_path_factory):
    running = GatewayServer(database, upstream_server.url, LOG_FORMAT="json",
                            log_path=tmp_path_factory.mktemp("json") / "gunicorn.log")
    yield running
    running.stop()


def test_with_log_format_json_every_line_is_one_object(app, json_server, bank):
    token = bank.key()
    answered = requests.post(json_server.url + CHAT, json=chat(), headers=headers(token), timeout=10)
    requests.post(json_server.url + CHAT, json=chat(stream=True), headers=headers(token), timeout=10)
    requests.post(json_server.url + CHAT, json=chat(), headers=headers("sk-qc-nobody"), timeout=10)
    entries = [json.loads(line) for line in json_server.log_text().splitlines()]
    assert all({"time", "level", "pid", "request_id", "message"} <= entry.keys() for entry in entries)
    request_id = answered.headers["X-Request-ID"]
    mine = [entry for entry in entries if entry["request_id"] == request_id]
    assert {entry["logger"] for entry in mine} == {"qingcheng", "gunicorn.access"}
    [line] = [entry for entry in mine if entry["message"] == "request"]
    assert (line["status"], line["key"], line["model"]) == (200, token[:KEY_DISPLAY_LENGTH], MODEL)
    [access] = [entry for entry in mine if entry["logger"] == "gunicorn.access"]
    assert (access["method"], access["path"], access["status"]) == ("POST", CHAT, 200)
    assert any("Booting worker" in entry["message"] for entry in entries)


def test_no_key_prompt_or_answer_reaches_the_log(app, json_server, bank):
    token = bank.key()
    prompt, answer = "斑马-prompt-Zq7Wx", "answer-text-K9wVq"
    for stream in (False, True):
        requests.post(json_server.url + CHAT, timeout=10, headers={"Authorization": f"Bearer {token}"},
                      json=chat(prompt, stream=stream, fake={"text": answer}))
    requests.post(json_server.url + CHAT, json=chat(prompt), headers=headers(token + "x"), timeout=10)
    requests.post(json_server.url + CHAT, json=chat(prompt), timeout=10,
                  headers=headers("sk-qc-never-logged-Hj4Tn"))
    log = json_server.log_text()
    assert token[:KEY_DISPLAY_LENGTH] in log  # the requests were logged, by the key's prefix
    for secret in (token, token[KEY_DISPLAY_LENGTH:], "never-logged-Hj4Tn", prompt, answer, UPSTREAM_KEY):
        assert secret not in log
