"""The documentation page's examples, copied from the page that real gunicorn serves, run against it."""
import os
import shutil
import subprocess
import sys
import time

import pytest

from web import docs
from helpers import expected_cost, sse_data
from pages import page_examples

ANSWER = "你好，世界！Hello 🌍\n"
NODE = ["node", "--input-type=module", "-e"]
RUNNERS = {"curl": ["bash", "-c"], "python": [sys.executable, "-c"], "openai": [sys.executable, "-c"],
           "fetch": NODE, "stream": NODE, "anthropic": [sys.executable, "-c"]}


@pytest.mark.parametrize("example", list(RUNNERS))
def test_each_example_on_the_page_runs_as_printed_with_a_key_put_in(server, bank, upstream, example):
    if RUNNERS[example][0] == "node" and shutil.which("node") is None:
        pytest.skip("node is not installed")
    account = bank.account("10")
    code = page_examples(server)[example]
    assert server.url in code and docs.KEY_PLACEHOLDER in code
    result = subprocess.run(RUNNERS[example] + [code.replace(docs.KEY_PLACEHOLDER, bank.key(account))],
                            capture_output=True, text=True, timeout=60, env=dict(os.environ))
    assert result.returncode == 0, result.stderr
    if example == "curl":
        assert sse_data(result.stdout)[-1] == "[DONE]"
    else:
        assert result.stdout == ANSWER
    assert settled_charges(bank, account) == [-expected_cost(completion=13)]


def settled_charges(bank, account, timeout=5.0):
    """The account's charges once there are any: a stream settles as gunicorn closes it."""
    deadline = time.monotonic() + timeout
    while not bank.charges(account) and time.monotonic() < deadline:
        time.sleep(0.05)
    return bank.charges(account)
