"""CORS (README "Configuration": CORS_ORIGINS): through the test client, then from a page on
another origin in headless Chromium against real gunicorn."""
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import cors
from helpers import GatewayServer, chat, expected_cost, headers, new_app
from models import RequestLog

APP_ORIGIN = "https://app.example.com"
PREFLIGHT = {"Origin": APP_ORIGIN, "Access-Control-Request-Method": "POST",
             "Access-Control-Request-Headers": "content-type,x-api-key,x-ai-provider"}


@pytest.fixture
def gateway_with(database, upstream):
    """A test client of the gateway with CORS_ORIGINS set to the text given."""
    return lambda origins: new_app(database, upstream.url, CORS_ORIGINS=origins).test_client()


def cors_headers(response):
    return {name: value for name, value in response.headers.items()
            if name.lower().startswith("access-control-")}


def listed(value):
    return {part.strip().lower() for part in value.split(",")}


def test_without_cors_origins_no_response_has_a_cors_header(gateway_with, bank):
    client = gateway_with("")
    assert cors_headers(client.options("/v1/chat/completions", headers=PREFLIGHT)) == {}
    answered = client.post("/v1/chat/completions", json=chat(), headers={
        **headers(bank.key()), "Origin": APP_ORIGIN})
    assert answered.status_code == 200 and cors_headers(answered) == {}


def test_a_preflight_from_an_allowed_origin_is_answered_204_with_the_apis_headers(gateway_with, upstream):
    client = gateway_with(f"http://localhost:5173, {APP_ORIGIN}/")
    response = client.options("/v1/chat/completions", headers=PREFLIGHT)
    assert response.status_code == 204 and response.get_data() == b""
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    assert listed(response.headers["Access-Control-Allow-Methods"]) == {"get", "post"}
    assert {"x-api-key", "authorization", "content-type", "x-ai-provider", "x-request-id",
            "anthropic-version"} <= listed(response.headers["Access-Control-Allow-Headers"])
    assert int(response.headers["Access-Control-Max-Age"]) > 0
    assert "Origin" in response.headers["Vary"]
    assert "Access-Control-Allow-Credentials" not in response.headers
    assert RequestLog.select().count() == 0 and upstream.stats()["requests"] == 0


def test_a_preflight_may_ask_for_the_sdks_own_headers(gateway_with):
    response = gateway_with(APP_ORIGIN).options("/v1/chat/completions", headers={
        **PREFLIGHT, "Access-Control-Request-Headers": "authorization,x-stainless-os,bad header"})
    allowed = listed(response.headers["Access-Control-Allow-Headers"])
    assert "x-stainless-os" in allowed and "bad header" not in allowed


def test_an_answer_to_an_allowed_origin_exposes_the_request_id_and_rate_limits(gateway_with, bank):
    response = gateway_with(APP_ORIGIN).post("/v1/chat/completions", json=chat(), headers={
        **headers(bank.key(rpm=5, tpm=1000)), "Origin": APP_ORIGIN})
    assert response.status_code == 200
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN
    exposed = listed(response.headers["Access-Control-Expose-Headers"])
    assert {"x-request-id", "retry-after"} <= exposed
    assert {name.lower() for name in response.headers.keys() if name.lower().startswith("x-ratelimit-")} \
        == {name for name in exposed if name.startswith("x-ratelimit-")} != set()
    assert "Origin" in response.headers["Vary"]


def test_errors_carry_the_cors_headers_so_that_the_page_can_read_them(gateway_with):
    response = gateway_with(APP_ORIGIN).post("/v1/chat/completions", json=chat(), headers={
        "X-API-Key": "sk-qc-wrong", "Origin": APP_ORIGIN})
    assert response.status_code == 401
    assert response.headers["Access-Control-Allow-Origin"] == APP_ORIGIN


def test_an_origin_not_listed_gets_no_cors_headers(gateway_with, bank):
    client = gateway_with(APP_ORIGIN)
    other = {**PREFLIGHT, "Origin": "https://evil.example.com"}
    preflight = client.options("/v1/chat/completions", headers=other)
    assert preflight.status_code != 204 and cors_headers(preflight) == {}
    answered = client.get("/v1/balance", headers={"X-API-Key": bank.key(), "Origin": other["Origin"]})
    assert answered.status_code == 200 and cors_headers(answered) == {}


def test_a_star_allows_every_origin(gateway_with, bank):
    client = gateway_with("*")
    preflight = client.options("/v1/models", headers={**PREFLIGHT, "Origin": "https://anyone.example"})
    assert preflight.status_code == 204 and preflight.headers["Access-Control-Allow-Origin"] == "*"
    answered = client.get("/v1/models", headers={"X-API-Key": bank.key(), "Origin": "null"})
    assert answered.headers["Access-Control-Allow-Origin"] == "*"


def test_the_pages_never_get_cors_headers(gateway_with):
    client = gateway_with("*")
    for path in ("/", "/signin", "/keys"):
        assert cors_headers(client.get(path, headers={"Origin": APP_ORIGIN})) == {}
        assert cors_headers(client.options(path, headers=PREFLIGHT)) == {}


def test_a_malformed_origin_is_left_out_with_a_warning(caplog):
    origins = cors.parse_origins("app.example.com, https://ok.example:8443 ,, https://x.example/path")
    assert origins == {"https://ok.example:8443"}
    assert "'app.example.com' is not an origin" in caplog.text
    assert "'https://x.example/path' is not an origin" in caplog.text


# --- in a browser -------------------------------------------------------------------------------

class OtherOrigin:
    """A second HTTP server on loopback, another port: a blank page of another origin."""

    def __init__(self):
        class BlankPage(BaseHTTPRequestHandler):
            def do_GET(self):
                body = b"<!doctype html><title>a browser app</title>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), BlankPage)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


# The page's own script: a chat request with fetch, and what the page can read of the answer.
CALL_THE_GATEWAY = """async ([gateway, key]) => {
  try {
    const response = await fetch(gateway + "/v1/chat/completions", {
      method: "POST",
      headers: {"Content-Type": "application/json", "X-API-Key": key, "X-AI-Provider": "deepseek"},
      body: JSON.stringify({model: "deepseek-flash", messages: [{role: "user", content: "你好"}]}),
    });
    const answer = await response.json();
    return {status: response.status, requestId: response.headers.get("X-Request-ID"),
            remaining: response.headers.get("x-ratelimit-remaining-requests"),
            content: answer.choices[0].message.content};
  } catch (error) {
    return {error: String(error)};
  }
}"""


@pytest.fixture(scope="module")
def other_origin():
    site = OtherOrigin()
    yield site
    site.stop()


@pytest.fixture(scope="module")
def cors_server(database, upstream_server, other_origin):
    """gunicorn allowing the other origin's pages."""
    running = GatewayServer(database, upstream_server.url, CORS_ORIGINS=other_origin.url)
    yield running
    running.stop()


@pytest.fixture
def app_page(browser, other_origin):
    """A browser tab on the other origin's page; closed before gunicorn stops (keep-alive)."""
    context = browser.new_context()
    tab = context.new_page()
    tab.goto(other_origin.url + "/")
    yield tab
    context.close()


def test_a_page_on_an_allowed_origin_calls_the_api_and_reads_the_request_id(app, cors_server, app_page,
                                                                          bank, upstream):
    account = bank.account("10")
    result = app_page.evaluate(CALL_THE_GATEWAY, [cors_server.url, bank.key(account, rpm=5)])
    assert result["status"] == 200, result
    assert result["content"] == "你好，世界！Hello 🌍" and result["remaining"] == "4"
    [row] = bank.requests(account)
    assert row.request_id == result["requestId"] and row.state == "settled"
    assert bank.charges(account) == [-expected_cost(completion=13)]
    bank.assert_consistent()


def test_without_cors_origins_the_browser_keeps_the_page_out(app, server, app_page, bank, upstream):
    account = bank.account("10")
    blocked = []
    app_page.on("console", lambda message: message.type == "error" and blocked.append(message.text))
    result = app_page.evaluate(CALL_THE_GATEWAY, [server.url, bank.key(account)])
    assert result == {"error": "TypeError: Failed to fetch"}
    assert any("CORS policy" in text for text in blocked)
    assert upstream.stats()["requests"] == 0 and bank.requests(account) == []
    assert bank.balance(account) == 10_000_000
