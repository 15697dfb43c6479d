"""What the page tests share: headless Chromium (Debian's, driven by Playwright), the examples
on the documentation page, and signing in and posting the pages' forms in the test client."""
import html
import os
import re
from contextlib import contextmanager

import requests

from helpers import required


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
DESKTOP, PHONE = {"width": 1280, "height": 900}, {"width": 390, "height": 844}


@contextmanager
def chromium():
    """Headless Chromium (Debian's, never a downloaded one) driven by Playwright."""
    absent = required("Chromium driven by Playwright")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        absent(f"the playwright package: {error}")
    if not os.access(CHROMIUM, os.X_OK):
        absent(f"{CHROMIUM} (Debian's chromium package)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def page_examples(server):
    """{id: code} of the examples on the server's own documentation page."""
    text = requests.get(server.url + "/", timeout=10).text
    return {name: html.unescape(code) for name, code in
            re.findall(r'<code id="code-(\w+)" class="language-\w+">(.*?)</code>', text, re.S)}


# --- the pages' forms ---------------------------------------------------------------------------

PASSWORD = "correct horse battery staple"
SESSION_COOKIE = "qingcheng_session"


def csrf_token(client):
    with client.session_transaction() as session:
        return session.setdefault("csrf", "csrf-for-tests")


def post_form(client, url, **fields):
    """POST a form the way the page would, with the session's CSRF token."""
    return client.post(url, data={"csrf": csrf_token(client), **fields})


def sign_in(client, account, password=PASSWORD):
    response = post_form(client, "/signin", name=account.name, password=password)
    assert response.status_code == 303, response.get_data(as_text=True)
    return response


def page(client, url):
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)
