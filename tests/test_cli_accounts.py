"""The command line for accounts (README "Command line"): creating, topping up, showing and
listing them, passwords, and the ledger check, through Flask's CLI runner."""
import json

import pytest

from pages import PASSWORD, post_form, sign_in
from models import Account, LedgerEntry, WebSession
from web import auth


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


@pytest.mark.parametrize("amount", ["-1", "0", "0.000000", "1.0000001", "lots", "NaN", "1000000000.000001"])
def test_accounts_topup_refuses_bad_amounts(cli, amount):
    cli("accounts", "create", "alice")
    result = cli("accounts", "topup", "alice", amount)
    assert result.exit_code == 2 and "Invalid value for 'AMOUNT'" in result.output
    assert Account.get(Account.name == "alice").balance == 0
    assert LedgerEntry.select().count() == 0


def test_a_negative_top_up_says_what_an_amount_must_be(cli):
    cli("accounts", "create", "alice")
    result = cli("accounts", "topup", "alice", "-5")
    assert "No such option" not in result.output
    assert "an amount must be more than 0 and at most 1,000,000,000 元, not -5" in result.output


def test_the_largest_top_up_is_the_pages_largest(cli):
    cli("accounts", "create", "alice")
    assert cli("accounts", "topup", "alice", "1000000000").exit_code == 0
    assert Account.get(Account.name == "alice").balance == 10**15


@pytest.mark.parametrize("name", ["", " ", "two words", " alice", "alice\t", "a" * 65, "名字 x"])
def test_accounts_create_refuses_a_name_the_admin_page_could_not_show(cli, name):
    before = Account.select().count()
    result = cli("accounts", "create", name)
    assert result.exit_code == 2 and "no spaces" in result.output
    assert Account.select().count() == before


@pytest.mark.parametrize("balance", ["-1", "1000000000.5"])
def test_accounts_create_refuses_an_opening_balance_out_of_range(cli, balance):
    assert cli("accounts", "create", "alice", "--balance", balance).exit_code == 2
    assert Account.get_or_none(Account.name == "alice") is None


@pytest.mark.parametrize("name, accepted", [("alice", True), ("王小明", True), ("ops.team@corp-1", True),
                                            ("two words", False), ("", False), ("a/b", False)])
def test_the_command_line_and_the_admin_page_accept_the_same_names(cli, client, admin, name, accepted):
    sign_in(client, admin)
    post_form(client, "/admin", name=name, password=PASSWORD, balance="0")
    on_the_page = Account.get_or_none(Account.name == name) is not None
    Account.delete().where(Account.name == name).execute()
    by_command = cli("accounts", "create", name).exit_code == 0
    assert on_the_page == by_command == accepted


def test_accounts_show_lists_balance_and_keys_without_secrets(cli):
    cli("accounts", "create", "alice", "--balance", "3")
    token = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    shown = json.loads(cli("accounts", "show", "alice").stdout)
    assert shown["balance"] == "3.000000" and shown["held"] == "0.000000"
    assert shown["keys"] == [{"prefix": token[:14], "label": "", "state": "active", "rpm": None,
                              "tpm": None, "concurrency": None, "expires": None, "models": [],
                              "budget": None, "spent": "0.000000", "ips": []}]
    assert token not in json.dumps(shown)


def test_accounts_list_shows_every_account_by_name(cli):
    cli("accounts", "create", "bob", "--balance", "2")
    cli("accounts", "create", "alice", "--admin")
    cli("keys", "create", "bob")
    assert json.loads(cli("accounts", "list").stdout) == [
        {"name": "admin", "admin": True, "balance": "0.000000", "held": "0.000000", "keys": 0},
        {"name": "alice", "admin": True, "balance": "0.000000", "held": "0.000000", "keys": 0},
        {"name": "bob", "admin": False, "balance": "2.000000", "held": "0.000000", "keys": 1}]


def test_accounts_password_sets_a_password_read_from_stdin(cli):
    cli("accounts", "create", "alice")
    result = cli("accounts", "password", "alice", "--password-stdin", input="a new password\n")
    assert result.exit_code == 0, result.output
    assert Account.get(Account.name == "alice").check_password("a new password")


def test_accounts_password_asks_twice_without_stdin(cli):
    cli("accounts", "create", "alice")
    result = cli("accounts", "password", "alice", input="a new password\na new password\n")
    assert result.exit_code == 0 and "a new password" not in result.output
    assert Account.get(Account.name == "alice").check_password("a new password")


def test_accounts_password_ends_the_accounts_web_sessions_and_no_one_elses(cli, bank):
    alice, bob = bank.account(name="alice", password=PASSWORD), bank.account(name="bob")
    alices = [auth.open_web_session(alice) for _ in range(2)]
    bobs = auth.open_web_session(bob)
    cli("accounts", "password", "alice", "--password-stdin", input="a new password\n")
    assert [auth.web_session_account(token) for token in alices] == [None, None]
    assert auth.web_session_account(bobs).id == bob.id
    assert WebSession.select().count() == 1


@pytest.mark.parametrize("command", [("accounts", "password", "alice"), ("accounts", "create", "bob")])
def test_a_password_under_eight_characters_is_refused_as_on_the_web(cli, bank, command):
    alice = bank.account(name="alice", password=PASSWORD)
    result = cli(*command, "--password-stdin", input="7 chars\n")
    assert result.exit_code == 1 and "at least 8 characters" in result.output
    assert Account.get_by_id(alice.id).check_password(PASSWORD)
    assert Account.get_or_none(Account.name == "bob") is None


def test_accounts_password_of_an_unknown_account_is_refused(cli):
    result = cli("accounts", "password", "nobody", "--password-stdin", input="a new password\n")
    assert result.exit_code == 1 and "no account named 'nobody'" in result.output


def test_ledger_check_passes_on_consistent_books_and_fails_otherwise(cli):
    cli("accounts", "create", "alice", "--balance", "2")
    assert cli("ledger", "check").exit_code == 0
    Account.update(balance=1).execute()
    result = cli("ledger", "check")
    assert result.exit_code == 1 and "MISMATCH alice" in result.output
