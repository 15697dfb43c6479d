"""GET /metrics, as README "Operations" tells it: what a request, a stream, a rate limit, a failover
and a disabled channel count; who may scrape; under gunicorn, every worker summed and nothing
left from a previous run. The in-process values add up over a test session: tests compare a
scrape before and after."""
import re
import threading

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

import channels
from helpers import (MODEL, GatewayServer, add_channel, chat, fake_upstreams, fresh, headers,
                     sse_data, worker_pids)
from models import Channel, now

CHAT = "/v1/chat/completions"
OK = {"provider": "deepseek", "model": MODEL, "status": "200"}


def samples(text):
    """{(sample name, frozenset of label pairs): value} of a scrape."""
    return {(sample.name, frozenset(sample.labels.items())): sample.value
            for family in text_string_to_metric_families(text) for sample in family.samples}


def scrape(client):
    response = client.get("/metrics")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    return samples(response.get_data(as_text=True))


def value(scraped, name, **labels):
    return scraped.get((name, frozenset(labels.items())), 0)


class Change:
    """A sample's change between the scrape when made and the one `after` takes."""

    def __init__(self, client):
        self.client, self.before = client, scrape(client)

    def after(self):
        self.now = scrape(self.client)
        return self

    def __call__(self, name, **labels):
        return value(self.now, name, **labels) - value(self.before, name, **labels)


def test_a_charged_request_counts_its_status_tokens_and_spend(client, bank):
    account = bank.account("10")
    change = Change(client)
    assert client.post(CHAT, json=chat(), headers=headers(bank.key(account))).status_code == 200
    change.after()
    [row] = bank.requests(account)
    assert change("qingcheng_requests_total", **OK) == 1
    assert [change("qingcheng_tokens_total", provider="deepseek", model=MODEL, kind=kind)
            for kind in ("prompt", "cached", "completion")] == \
        [row.prompt_tokens, row.cached_tokens, row.completion_tokens]
    assert change("qingcheng_spend_yuan_total", provider="deepseek", model=MODEL) == \
        pytest.approx(row.cost / 1_000_000)
    assert change("qingcheng_request_duration_seconds_count", provider="deepseek", stream="false") == 1
    assert change("qingcheng_first_byte_seconds_count") == 1
    assert value(change.now, "qingcheng_requests_in_flight") == 0


def test_a_stream_counts_its_first_byte_and_its_duration(client, bank):
    change = Change(client)
    response = client.post(CHAT, json=chat(stream=True, fake={"chunks": 5, "interval": 0.01}),
                           headers=headers(bank.key()))
    assert sse_data(response.get_data(as_text=True))[-1] == "[DONE]"
    change.after()
    assert change("qingcheng_first_byte_seconds_count") == 1
    assert change("qingcheng_request_duration_seconds_count", provider="deepseek", stream="true") == 1
    assert change("qingcheng_requests_total", **OK) == 1
    assert value(change.now, "qingcheng_requests_in_flight") == 0


def test_a_request_refused_by_a_rate_limit_counts_the_limit(client, bank):
    token = bank.key(rpm=1)
    change = Change(client)
    assert client.post(CHAT, json=chat(), headers=headers(token)).status_code == 200
    assert client.post(CHAT, json=chat(), headers=headers(token)).status_code == 429
    change.after()
    assert change("qingcheng_rate_limited_total", limit="rpm") == 1
    assert change("qingcheng_requests_total", **{**OK, "status": "429"}) == 1


def test_a_refused_key_counts_without_provider_or_model(client):
    change = Change(client)
    assert client.post(CHAT, json=chat(), headers=headers("sk-qc-unknown")).status_code == 401
    change.after()
    assert change("qingcheng_requests_total", provider="", model="", status="401") == 1


@pytest.fixture(scope="module")
def fleet():
    with fake_upstreams(2) as started:
        yield started


def test_an_upstream_failure_counts_against_its_channel_and_reason(app, client, bank, fleet):
    alpha, bravo = fresh(app, fleet)
    add_channel(app, "first", alpha, priority=1)
    add_channel(app, "second", bravo)
    alpha.behave(status=503)
    change = Change(client)
    assert client.post(CHAT, json=chat(), headers=headers(bank.key())).status_code == 200
    change.after()
    assert change("qingcheng_upstream_failures_total", channel="first", reason="server_error") == 1
    assert change("qingcheng_upstream_failures_total", channel="second", reason="server_error") == 0
    assert change("qingcheng_requests_total", **OK) == 1


def test_a_disabled_or_cooling_channel_is_down(app, client, fleet):
    alpha, bravo = fresh(app, fleet)
    add_channel(app, "steady", alpha)
    add_channel(app, "off", bravo)
    add_channel(app, "cooling", bravo)
    channels.disable("off")
    Channel.update(cooling_until=now() + 60).where(Channel.name == "cooling").execute()
    scraped = scrape(client)
    assert [value(scraped, "qingcheng_channel_up", channel=name) for name in ("steady", "off", "cooling")] \
        == [1, 0, 0]


# --- who may scrape -------------------------------------------------------------------------------

ELSEWHERE = {"REMOTE_ADDR": "203.0.113.9"}


def test_metrics_are_not_found_from_another_address(client):
    response = client.get("/metrics", environ_base=ELSEWHERE)
    assert response.status_code == 404 and response.mimetype == "text/html"


def test_metrics_are_not_found_through_a_local_proxy_for_another_address(client):
    response = client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
    assert response.status_code == 404


def test_metrics_are_served_anywhere_with_the_token(app, client):
    app.config["METRICS_TOKEN"] = "scrape-token-0123456789"
    served = client.get("/metrics", environ_base=ELSEWHERE,
                        headers={"Authorization": "Bearer scrape-token-0123456789"})
    refused = client.get("/metrics", environ_base=ELSEWHERE,
                         headers={"Authorization": "Bearer scrape-token-wrong"})
    assert served.status_code == 200 and b"qingcheng_requests_in_flight" in served.data
    assert refused.status_code == 404


# --- under gunicorn ------------------------------------------------------------------------------

ACCESS_LINE = re.compile(r"\[(\d+)\] \S+ 127\.0\.0\.1 \"POST /v1/chat/completions ")


def served_by(server, since):
    """The pids of the workers whose access lines, after `since` characters of the log, show a chat."""
    return set(ACCESS_LINE.findall(server.log_text()[since:]))


def test_a_scrape_sums_every_worker(server, bank):
    token, start = bank.key(), len(server.log_text())
    before = samples(requests.get(server.url + "/metrics", timeout=5).text)
    sent = 0
    while served_by(server, start) != worker_pids(server.log_text()) and sent < 400:
        batch = [threading.Thread(target=requests.post, args=(server.url + CHAT,), kwargs=dict(
            json=chat(), headers=headers(token), timeout=10)) for _ in range(4)]
        for thread in batch:
            thread.start()
        for thread in batch:
            thread.join()
        sent += len(batch)
    workers = worker_pids(server.log_text())
    assert served_by(server, start) == workers and len(workers) == 2
    after = samples(requests.get(server.url + "/metrics", timeout=5).text)
    assert value(after, "qingcheng_requests_total", **OK) - value(before, "qingcheng_requests_total", **OK) \
        == sent


@pytest.mark.parametrize("operator_dir", [False, True], ids=["own-directory", "operator-directory"])
def test_a_restarted_server_starts_from_zero(app, bank, upstream, database, tmp_path, operator_dir):
    environment = {"PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics")} if operator_dir else {}
    token = bank.key()
    first = GatewayServer(database, upstream.url, **environment)
    try:
        answer = requests.post(first.url + CHAT, json=chat(), headers=headers(token), timeout=10)
        assert answer.status_code == 200
        assert value(samples(requests.get(first.url + "/metrics", timeout=5).text),
                     "qingcheng_requests_total", **OK) == 1
    finally:
        first.stop()
    second = GatewayServer(database, upstream.url, **environment)
    try:
        scraped = samples(requests.get(second.url + "/metrics", timeout=5).text)
    finally:
        second.stop()
    assert value(scraped, "qingcheng_requests_total", **OK) == 0
