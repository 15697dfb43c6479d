"""The operator's command line (README "Command line"), through Flask's CLI runner."""
import json

import pytest

from models import Account, ApiKey, LedgerEntry, Price


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=list(args), **kwargs)


def test_accounts_create_with_an_opening_balance_writes_a_ledger_row(cli):
    result = cli("accounts", "create", "alice", "--balance", "12.5")
    assert result.exit_code == 0, result.output
    alice = Account.get(Account.name == "alice")
    assert alice.balance == 12_500_000
    assert [e.amount for e in LedgerEntry.select().where(LedgerEntry.account == alice)] == [12_500_000]


def test_accounts_create_twice_is_refused(cli):
    cli("accounts", "create", "alice")
    result = cli("accounts", "create", "alice")
    assert result.exit_code != 0 and "exists already" in result.output


def test_accounts_create_reads_a_password_from_stdin(cli):
    cli("accounts", "create", "ops", "--admin", "--password-stdin", input="s3cret pass\n")
    ops = Account.get(Account.name == "ops")
    assert ops.is_admin and ops.check_password("s3cret pass") and "s3cret" not in ops.password_hash


def test_accounts_topup_adds_to_the_balance_with_a_note(cli):
    cli("accounts", "create", "alice", "--balance", "1")
    assert cli("accounts", "topup", "alice", "0.000001", "--note", "bonus").exit_code == 0
    assert Account.get(Account.name == "alice").balance == 1_000_001
    assert LedgerEntry.select().order_by(LedgerEntry.id.desc()).first().note == "bonus"


@pytest.mark.parametrize("amount", ["-1", "1.0000001", "lots"])
def test_accounts_topup_refuses_bad_amounts(cli, amount):
    cli("accounts", "create", "alice")
    assert cli("accounts", "topup", "alice", amount).exit_code != 0
    assert Account.get(Account.name == "alice").balance == 0


def test_keys_create_prints_the_key_alone_on_the_last_line_once(cli):
    cli("accounts", "create", "alice")
    result = cli("keys", "create", "alice", "--name", "laptop", "--rpm", "60", "--concurrency", "2",
                 "--expires", "2030-01-01")
    token = result.stdout.strip().splitlines()[-1]
    key = ApiKey.lookup(token)
    assert (key.label, key.rpm, key.tpm, key.concurrency) == ("laptop", 60, None, 2)
    assert key.expires == 1893456000.0


def test_accounts_show_lists_balance_and_keys_without_secrets(cli):
    cli("accounts", "create", "alice", "--balance", "3")
    token = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    shown = json.loads(cli("accounts", "show", "alice").stdout)
    assert shown["balance"] == "3.000000" and shown["held"] == "0.000000"
    assert shown["keys"] == [{"prefix": token[:14], "label": "", "state": "active", "rpm": None,
                              "tpm": None, "concurrency": None, "expires": None, "models": [],
                              "budget": None, "spent": "0.000000", "ips": []}]
    assert token not in json.dumps(shown)


def test_keys_revoke_by_prefix_stops_the_key_at_once(cli):
    cli("accounts", "create", "alice")
    token = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    assert cli("keys", "revoke", token[:14]).exit_code == 0
    assert ApiKey.lookup(token) is None


def test_keys_revoke_refuses_an_ambiguous_prefix(cli):
    cli("accounts", "create", "alice")
    cli("keys", "create", "alice")
    cli("keys", "create", "alice")
    result = cli("keys", "revoke", "sk-qc-")
    assert result.exit_code != 0 and "ambiguous" in result.output
    assert ApiKey.select().where(ApiKey.revoked).count() == 0


def test_prices_set_stores_micro_yuan_per_million_tokens_and_updates(cli):
    cli("prices", "set", "deepseek", "deepseek-v4-pro", "--input", "4.5", "--cached-input", "0.15",
        "--output", "13.5", "--max-output", "4096")
    cli("prices", "set", "deepseek", "deepseek-v4-pro", "--input", "9", "--cached-input", "0.3",
        "--output", "27")
    price = Price.get(Price.model == "deepseek-v4-pro")
    assert (price.input, price.cached_input, price.output, price.max_output) == (9_000_000, 300_000, 27_000_000, 8192)


def test_prices_set_refuses_an_unknown_provider(cli):
    assert cli("prices", "set", "nosuch", "m", "--input", "1", "--cached-input", "1", "--output", "1").exit_code != 0


def test_ledger_check_passes_on_consistent_books_and_fails_otherwise(cli):
    cli("accounts", "create", "alice", "--balance", "2")
    assert cli("ledger", "check").exit_code == 0
    Account.update(balance=1).execute()
    result = cli("ledger", "check")
    assert result.exit_code == 1 and "MISMATCH alice" in result.output
