"""Per-key rate limits (docs/limits.md) through the test client, with the database limiter and with Redis."""
import math
import os

import pytest

from helpers import chat, headers, new_app, required
from models import RequestLog

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_or_skip():
    import redis
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.flushdb()
    except redis.RedisError as error:
        required("Redis")(str(error))
    return REDIS_URL


@pytest.fixture(params=["database", "redis"])
def limited(request, database, upstream):
    """The app with each limiter: the database's, or Redis's."""
    return new_app(database, upstream.url,
                   REDIS_URL=redis_or_skip() if request.param == "redis" else None)


@pytest.fixture
def send(limited, bank):
    client = limited.test_client()

    def send_one(token, **fields):
        response = client.post("/v1/chat/completions", json=chat(**fields), headers=headers(token))
        response.get_data()
        response.close()
        return response
    return send_one


def test_rpm_admits_exactly_n_then_429_with_retry_after(send, bank, upstream):
    token = bank.key(rpm=3)
    statuses = [send(token).status_code for _ in range(5)]
    assert statuses == [200, 200, 200, 429, 429]
    refused = send(token)
    assert refused.get_json()["error"]["code"] == "rate_limit_exceeded"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert upstream.stats()["requests"] == 3


def test_a_refused_request_costs_nothing(send, bank, upstream):
    account = bank.account("10")
    token = bank.key(account, rpm=1)
    send(token)
    balance = bank.balance(account)
    send(token)
    assert bank.balance(account) == balance and bank.held(account) == 0
    assert len(bank.requests(account)) == 1
    bank.assert_consistent()


def test_rate_headers_count_down_and_never_go_up_within_the_window(send, bank, upstream):
    token = bank.key(rpm=4)
    responses = [send(token) for _ in range(5)]
    remaining = [int(r.headers["x-ratelimit-remaining-requests"]) for r in responses]
    assert remaining == [3, 2, 1, 0, 0]
    assert all(r.headers["x-ratelimit-limit-requests"] == "4" for r in responses)
    assert responses[-1].headers["x-ratelimit-reset-requests"].endswith("s")


def seconds(header):
    assert header.endswith("s")
    return float(header[:-1])


def test_right_after_its_one_request_a_key_with_rpm_1_says_the_window_resets_in_a_minute(send, bank, upstream):
    token = bank.key(rpm=1)
    admitted = send(token)
    assert admitted.status_code == 200
    assert admitted.headers["x-ratelimit-remaining-requests"] == "0"
    assert 50 < seconds(admitted.headers["x-ratelimit-reset-requests"]) <= 60
    refused = send(token)
    assert refused.status_code == 429
    assert 50 < seconds(refused.headers["x-ratelimit-reset-requests"]) <= 60
    assert int(refused.headers["Retry-After"]) == math.ceil(seconds(refused.headers["x-ratelimit-reset-requests"]))


def test_the_reset_is_when_the_oldest_request_of_the_window_leaves_it(send, bank, upstream):
    token = bank.key(rpm=3)
    resets = [seconds(send(token).headers["x-ratelimit-reset-requests"]) for _ in range(3)]
    assert 50 < resets[2] <= resets[1] <= resets[0] <= 60


def test_tokens_reset_a_minute_after_the_tokens_were_used(limited, send, bank, upstream):
    token = bank.key(tpm=1000)
    first = send(token)
    assert first.headers["x-ratelimit-remaining-tokens"] == "1000"
    assert first.headers["x-ratelimit-reset-tokens"] == "0.000s"  # nothing used: nothing to wait for
    second = send(token)
    assert second.headers["x-ratelimit-remaining-tokens"] == str(1000 - 25)
    assert 50 < seconds(second.headers["x-ratelimit-reset-tokens"]) <= 60
    balance = limited.test_client().get("/v1/balance", headers={"X-API-Key": token})
    assert 50 < seconds(balance.headers["x-ratelimit-reset-tokens"]) <= 60


def test_a_key_that_has_made_no_request_has_nothing_to_wait_for(limited, bank):
    token = bank.key(rpm=2, tpm=1000)
    response = limited.test_client().get("/v1/balance", headers={"X-API-Key": token})
    assert response.headers["x-ratelimit-remaining-requests"] == "2"
    assert response.headers["x-ratelimit-reset-requests"] == "0.000s"
    assert response.headers["x-ratelimit-reset-tokens"] == "0.000s"


def test_balance_and_models_show_the_limits_without_using_them(limited, send, bank, upstream):
    token = bank.key(rpm=4, tpm=1000)
    send(token)
    client = limited.test_client()
    for path in ("/v1/balance", "/v1/models", "/v1/balance"):
        response = client.get(path, headers={"X-API-Key": token})
        assert response.headers["x-ratelimit-remaining-requests"] == "3"
        assert response.headers["x-ratelimit-remaining-tokens"] == str(1000 - 25)


def test_a_key_without_limits_gets_no_rate_headers(send, bank, upstream):
    response = send(bank.key())
    assert not [name for name in response.headers.keys() if name.lower().startswith("x-ratelimit")]


def test_tpm_refuses_once_the_tokens_of_the_window_reach_the_limit(send, bank, upstream):
    token = bank.key(tpm=30)
    first = send(token)  # 12 prompt + 13 completion tokens
    assert first.headers["x-ratelimit-remaining-tokens"] == "30"
    second = send(token)
    assert second.status_code == 200 and second.headers["x-ratelimit-remaining-tokens"] == "5"
    refused = send(token)
    assert refused.status_code == 429
    assert refused.headers["x-ratelimit-remaining-tokens"] == "0"
    assert upstream.stats()["requests"] == 2


def test_concurrency_limit_refuses_a_request_over_the_cap(limited, bank, upstream):
    token = bank.key(concurrency=1)
    client = limited.test_client()
    slow = chat(stream=True, fake={"chunks": 4, "interval": 0.3})
    running = client.post("/v1/chat/completions", json=slow, headers=headers(token))
    assert running.status_code == 200  # the upstream is still sending: the request is in flight
    refused = client.post("/v1/chat/completions", json=chat(), headers=headers(token))
    assert refused.status_code == 429 and refused.headers["Retry-After"] == "1"
    running.get_data()
    running.close()
    assert client.post("/v1/chat/completions", json=chat(), headers=headers(token)).status_code == 200


def test_a_request_refused_for_balance_does_not_use_the_rpm(send, bank, upstream):
    account = bank.account("0.0001")
    token = bank.key(account, rpm=1)
    assert send(token).status_code == 403
    from money import topup
    topup(account, 10_000_000)
    assert send(token).status_code == 200


def test_with_redis_unreachable_the_database_keeps_the_limits(database, upstream, bank):
    client = new_app(database, upstream.url, REDIS_URL="redis://127.0.0.1:1/0").test_client()
    token = bank.key(rpm=2)
    statuses = [client.post("/v1/chat/completions", json=chat(), headers=headers(token)).status_code
                for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert RequestLog.select().count() == 2


def test_redis_holds_the_counters_and_they_expire(database, upstream, bank):
    import redis
    url = redis_or_skip()
    app = new_app(database, upstream.url, REDIS_URL=url)
    token = bank.key(rpm=5, concurrency=2)
    client = app.test_client()
    for _ in range(2):
        client.post("/v1/chat/completions", json=chat(), headers=headers(token)).close()
    store = redis.Redis.from_url(url)
    [rpm_key] = store.keys("qc:rpm:*")
    assert store.zcard(rpm_key) == 2 and 0 < store.pttl(rpm_key) <= 61_000
    assert store.keys("qc:inflight:*") == [] or store.zcard(store.keys("qc:inflight:*")[0]) == 0
