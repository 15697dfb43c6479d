"""deploy/: the nginx site in front of real gunicorn, with Debian's nginx run as a test process (not
the system's service) on plain HTTP and through its commented TLS example, and the systemd unit's
and the site's numbers against the gateway's."""
import datetime
import ipaddress
import os
import re
import runpy
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

import gateway
from helpers import (ROOT, GatewayServer, chat, event_arrivals, free_port, headers, required, sse_data,
                     wait_until_settled)

SITE = ROOT / "deploy" / "nginx-qingcheng.conf"
UNIT = ROOT / "deploy" / "qingcheng-gateway.service"
NGINX = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin")  # Debian's, off a user's PATH
NGINX_CONF = """daemon off;
{user}
worker_processes 1;
pid {here}/nginx.pid;
error_log {here}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {here}/access.log;
    client_body_temp_path {here}/client_body;
    proxy_temp_path {here}/proxy;
    fastcgi_temp_path {here}/fastcgi;
    uwsgi_temp_path {here}/uwsgi;
    scgi_temp_path {here}/scgi;
    include {here}/site.conf;
}}
"""


class Nginx:
    """deploy/nginx-qingcheng.conf in front of the gateway at `upstream_port`, listening on free
    loopback ports (its TLS example too, with a certificate of its own), everything it writes in
    `here`."""

    def __init__(self, upstream_port, here):
        self.port, self.tls_port = free_port(), free_port()
        self.url, self.tls_url = f"http://127.0.0.1:{self.port}", f"https://127.0.0.1:{self.tls_port}"
        self.here, self.upstream_port = here, upstream_port
        self.certificate = self_signed(here)
        (here / "site.conf").write_text(site_for(self.port, self.tls_port, upstream_port, here))
        # nginx started by root hands its workers to `nobody`, who may not enter pytest's tmp dir.
        user = "user root;" if os.geteuid() == 0 else ""
        (here / "nginx.conf").write_text(NGINX_CONF.format(here=here, user=user))
        self.output = open(here / "nginx.out", "wb")
        self.process = subprocess.Popen([NGINX, "-p", str(here), "-c", str(here / "nginx.conf"),
                                         "-e", str(here / "error.log")], stdout=self.output,
                                        stderr=subprocess.STDOUT)
        self.wait_until_listening()

    def wait_until_listening(self, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("nginx did not start: " + (self.here / "nginx.out").read_text(errors="replace")
                           + (self.here / "error.log").read_text(errors="replace"))

    def stop(self):
        self.process.terminate()
        self.process.wait(10)
        self.output.close()


def site_for(port, tls_port, upstream_port, here):
    """The site file as shipped, listening on `port` and on `tls_port` as its commented TLS example
    says (with `here`'s certificate), proxying to `upstream_port`."""
    site = SITE.read_text()
    shipped = {"listen 80;": f"listen 127.0.0.1:{port};", "listen [::]:80;": "",
               "#   listen 443 ssl;": f"listen 127.0.0.1:{tls_port} ssl;", "#   listen [::]:443 ssl;": "",
               "server 127.0.0.1:9090;": f"server 127.0.0.1:{upstream_port};"}
    for line, ours in shipped.items():
        assert line in site
        site = site.replace(line, ours)
    site, certificates = re.subn(r"#   ssl_certificate +\S+;", f"ssl_certificate {here / 'cert.pem'};", site)
    site, keys = re.subn(r"#   ssl_certificate_key +\S+;", f"ssl_certificate_key {here / 'key.pem'};", site)
    assert certificates == keys == 1
    return site


def self_signed(here):
    """A certificate for 127.0.0.1 and its key, in `here`; the certificate's path."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - datetime.timedelta(hours=1))
                   .not_valid_after(now + datetime.timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                   .add_extension(x509.SubjectAlternativeName(
                       [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
                   .sign(key, hashes.SHA256()))
    (here / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (here / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                                     serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    return here / "cert.pem"


def nginx_present():
    if NGINX is None:
        required("nginx (Debian's nginx package)")("no nginx on PATH or in /usr/sbin")


@pytest.fixture(scope="module")
def behind_nginx(database, upstream_server, tmp_path_factory):
    """gunicorn trusting nginx alone (FORWARDED_ALLOW_IPS=127.0.0.1), and nginx in front of it."""
    nginx_present()
    server = GatewayServer(database, upstream_server.url, FORWARDED_ALLOW_IPS="127.0.0.1",
                           log_path=tmp_path_factory.mktemp("gunicorn") / "gunicorn.log")
    proxy = Nginx(server.port, tmp_path_factory.mktemp("nginx"))
    yield proxy
    proxy.stop()
    server.stop()


@pytest.fixture
def nginx(app, behind_nginx):
    """nginx in front of gunicorn (one per module) on the same database as `app`."""
    return behind_nginx


class FromAddress(requests.adapters.HTTPAdapter):
    """Connections from a loopback address of our choosing: a caller other than nginx's 127.0.0.1."""

    def __init__(self, address):
        self.address = address
        super().__init__()

    def init_poolmanager(self, *args, **kwargs):
        super().init_poolmanager(*args, source_address=(self.address, 0), **kwargs)


def caller_at(address):
    session = requests.Session()
    session.mount("http://", FromAddress(address))
    return session


# --- through nginx ------------------------------------------------------------------------------

def test_a_stream_comes_through_nginx_event_by_event(nginx, bank, upstream):
    arrivals = event_arrivals(nginx.url, bank.key(), {"chunks": 5, "interval": 0.3})
    assert len(arrivals) == 7  # role chunk, 5 content chunks, [DONE]
    assert arrivals[1] < arrivals[-1] / 2  # not held back by nginx until the end


def test_the_callers_address_not_nginxs_reaches_the_request_log(nginx, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    assert caller_at("127.0.0.2").post(nginx.url + "/v1/chat/completions", json=chat(),
                                       headers=headers(token), timeout=10).status_code == 200
    made_up = {**headers(token), "X-Forwarded-For": "203.0.113.9"}  # nginx appends the real one
    assert caller_at("127.0.0.3").post(nginx.url + "/v1/chat/completions", json=chat(),
                                       headers=made_up, timeout=10).status_code == 200
    assert [row.client_ip for row in bank.requests(account)] == ["127.0.0.2", "127.0.0.3"]


def test_a_keys_allowed_networks_judge_the_caller_behind_nginx(nginx, bank, upstream):
    account = bank.account("10")
    token = bank.key(account, ips="127.0.0.2/32")
    served = caller_at("127.0.0.2").post(nginx.url + "/v1/chat/completions", json=chat(),
                                         headers=headers(token), timeout=10)
    refused = caller_at("127.0.0.3").post(nginx.url + "/v1/chat/completions", json=chat(),
                                          headers=headers(token), timeout=10)
    assert served.status_code == 200
    assert (refused.status_code, refused.json()["error"]["code"]) == (403, "ip_not_allowed")
    assert len(bank.requests(account)) == 1


def test_the_request_id_is_the_callers_or_nginxs_in_the_answer_and_the_request_log(nginx, bank, upstream):
    account = bank.account("10")
    token = bank.key(account)
    chosen = requests.post(nginx.url + "/v1/chat/completions", json=chat(), timeout=10,
                           headers={**headers(token), "X-Request-ID": "trace-42"})
    given = requests.post(nginx.url + "/v1/chat/completions", json=chat(), headers=headers(token), timeout=10)
    assert chosen.headers["X-Request-ID"] == "trace-42"
    assert re.fullmatch(r"[0-9a-f]{32}", given.headers["X-Request-ID"])  # nginx's $request_id
    assert [row.request_id for row in bank.requests(account)] == ["trace-42", given.headers["X-Request-ID"]]


def test_the_docs_page_through_nginx_aims_its_examples_at_nginx(nginx):
    page = requests.get(nginx.url + "/", timeout=10).text
    assert f"{nginx.url}/v1/chat/completions" in page
    assert f":{nginx.upstream_port}" not in page


def test_behind_nginxs_tls_the_pages_send_hsts_and_secure_cookies(nginx):
    secure = requests.get(nginx.tls_url + "/?lang=en", verify=nginx.certificate, timeout=10)
    plain = requests.get(nginx.url + "/?lang=en", timeout=10)
    assert secure.status_code == plain.status_code == 200
    assert secure.headers["Strict-Transport-Security"] == "max-age=31536000"
    assert "Strict-Transport-Security" not in plain.headers
    assert "; Secure" in secure.headers["Set-Cookie"] and "; Secure" not in plain.headers["Set-Cookie"]


def test_a_body_over_the_gateways_limit_gets_the_gateways_json_413_through_nginx(nginx, bank, upstream):
    payload = chat(content="x" * (4 * 1024 * 1024 + 1000))
    response = requests.post(nginx.url + "/v1/chat/completions", json=payload,
                             headers=headers(bank.key()), timeout=20)
    assert (response.status_code, response.json()["error"]["code"]) == (413, "request_too_large")
    assert upstream.stats()["requests"] == 0


def test_a_stop_behind_nginx_does_not_wait_for_its_idle_upstream_connections(app, database, upstream, bank,
                                                                           tmp_path):
    nginx_present()
    server = GatewayServer(database, upstream.url, FORWARDED_ALLOW_IPS="127.0.0.1",
                           log_path=tmp_path / "gunicorn.log")
    proxy = Nginx(server.port, tmp_path)
    try:
        account = bank.account("10")
        answer = requests.post(proxy.url + "/v1/chat/completions", json=chat(stream=True),
                               headers=headers(bank.key(account)), timeout=10)
        assert sse_data(answer.text)[-1] == "[DONE]"  # nginx now keeps its connection to gunicorn
        wait_until_settled(account)
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(5)  # not graceful_timeout (30 s)
    finally:
        proxy.stop()
        if server.process.poll() is None:
            server.process.kill()


# --- the numbers of the unit and the site -------------------------------------------------------

def seconds(text, setting):
    return int(re.search(rf"^\s*{setting}[ =](\d+)s?;?$", text, re.M).group(1))


def test_systemd_waits_longer_than_gunicorn_lets_streams_finish():
    graceful = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["graceful_timeout"]
    assert seconds(UNIT.read_text(), "TimeoutStopSec") > graceful
    assert re.search(r"^ExecStart=\S+/gunicorn -c \S+/gunicorn\.conf\.py$", UNIT.read_text(), re.M)


def test_nginx_drops_idle_upstream_connections_before_gunicorn_does():
    keepalive = runpy.run_path(str(ROOT / "gunicorn.conf.py"))["keepalive"]
    assert seconds(SITE.read_text(), "keepalive_timeout") < keepalive


def test_nginx_waits_for_a_silent_answer_longer_than_the_gateways_deadline():
    deadline = gateway.config_from_env({})["TIMEOUTS"].total
    assert seconds(SITE.read_text(), "proxy_read_timeout") > deadline
