"""The Vercel AI SDK's `generateText` and `streamText` with its default OpenAI provider, which
speaks the Responses API, run with node against real gunicorn. Its packages are installed into
tests/js at test time (CI installs them beforehand)."""
import json
import shutil
import subprocess

import pytest

from fake_upstream import DEFAULT_TEXT
from helpers import MODEL, ROOT, expected_cost, required

JS = ROOT / "tests" / "js"


@pytest.fixture(scope="module")
def vercel_ai():
    if shutil.which("node") is None or shutil.which("npm") is None:
        required("node and npm")("not installed")
    if not (JS / "node_modules" / "ai").is_dir():
        installed = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--no-package-lock"],
                                   cwd=JS, capture_output=True, text=True, timeout=300)
        if installed.returncode != 0:
            required("the npm packages ai and @ai-sdk/openai")(installed.stderr[-500:])
    return JS / "vercel_ai.mjs"


@pytest.mark.parametrize("mode", ["generate", "stream"])
def test_the_vercel_ai_sdk_gets_text_and_usage(vercel_ai, server, bank, upstream, mode):
    account = bank.account("10")
    result = subprocess.run(["node", str(vercel_ai), server.url + "/v1", bank.key(account), MODEL, mode],
                            cwd=JS, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    answer = json.loads(result.stdout)
    assert answer["text"] == DEFAULT_TEXT
    assert (answer["usage"]["inputTokens"], answer["usage"]["outputTokens"]) == (12, 13)
    assert bank.charges(account) == [-expected_cost(completion=13)]
    bank.assert_consistent()
