"""The money primitives of models.py: holds, settlements, top-ups and the ledger check."""
import pytest

import models
import money
from errors import ApiError
from providers.base import Usage
from models import Account, LedgerEntry, RequestLog


def key_of(bank, balance="1", **policies):
    token = bank.key(bank.account(balance), **policies)
    return models.ApiKey.get(models.ApiKey.digest == models.ApiKey.digest_of(token))


def held_request(bank, balance="1", hold=300_000):
    key = key_of(bank, balance)
    return key, money.hold(key, hold, "req_test", "deepseek", "deepseek-flash", False)


def test_hold_moves_money_from_balance_to_held(bank):
    key, row = held_request(bank)
    account = Account.get_by_id(key.account_id)
    assert (account.balance, account.held, row.state) == (700_000, 300_000, "held")
    bank.assert_consistent()


def test_hold_larger_than_the_balance_is_refused_and_moves_nothing(bank):
    key = key_of(bank, balance="0.2")
    with pytest.raises(ApiError) as refused:
        money.hold(key, 200_001, "req_test", "deepseek", "deepseek-flash", False)
    assert (refused.value.status, refused.value.code) == (403, "insufficient_balance")
    assert Account.get_by_id(key.account_id).balance == 200_000
    assert models.ApiKey.get_by_id(key.id).held == 0
    assert RequestLog.select().count() == 0


def test_hold_beyond_the_keys_budget_is_refused_and_moves_nothing(bank):
    key = key_of(bank, balance="10", budget=500_000)
    money.hold(key, 300_000, "req_1", "deepseek", "deepseek-flash", False)
    with pytest.raises(ApiError) as refused:
        money.hold(key, 200_001, "req_2", "deepseek", "deepseek-flash", False)
    assert (refused.value.status, refused.value.code) == (403, "key_budget_exceeded")
    assert Account.get_by_id(key.account_id).balance == 9_700_000
    assert models.ApiKey.get_by_id(key.id).held == 300_000
    bank.assert_consistent()


def test_a_keys_budget_counts_what_it_spent_and_what_it_holds(bank):
    key = key_of(bank, balance="10", budget=500_000)
    row = money.hold(key, 300_000, "req_1", "deepseek", "deepseek-flash", False)
    money.settle(row, Usage(prompt=10), 100_000, 200)
    assert (models.ApiKey.get_by_id(key.id).spent, models.ApiKey.get_by_id(key.id).held) == (100_000, 0)
    money.hold(key, 400_000, "req_2", "deepseek", "deepseek-flash", False)  # exactly what is left
    with pytest.raises(ApiError):
        money.hold(key, 1, "req_3", "deepseek", "deepseek-flash", False)
    bank.assert_consistent()


def test_settle_replaces_the_hold_with_the_charge_and_a_ledger_row(bank):
    key, row = held_request(bank)
    assert money.settle(row, Usage(prompt=10, completion=5), 1234, 200)
    account = Account.get_by_id(key.account_id)
    assert (account.balance, account.held) == (1_000_000 - 1234, 0)
    assert [e.amount for e in LedgerEntry.select().where(LedgerEntry.kind == "charge")] == [-1234]
    bank.assert_consistent()


def test_settling_twice_charges_once(bank):
    key, row = held_request(bank)
    assert money.settle(row, Usage(), 1000, 200)
    assert not money.settle(row, Usage(), 1000, 200)
    assert Account.get_by_id(key.account_id).balance == 999_000
    assert LedgerEntry.select().where(LedgerEntry.kind == "charge").count() == 1


def test_a_charge_above_the_hold_is_capped_at_the_hold(bank):
    key, row = held_request(bank, hold=500)
    money.settle(row, Usage(), 10**9, 200)
    assert Account.get_by_id(key.account_id).balance == 1_000_000 - 500
    bank.assert_consistent()


def test_release_returns_the_whole_hold_and_writes_no_charge(bank):
    key, row = held_request(bank)
    money.settle(row, Usage(), 0, 502)
    assert Account.get_by_id(key.account_id).balance == 1_000_000
    assert LedgerEntry.select().where(LedgerEntry.kind == "charge").count() == 0


def test_ledger_check_reports_books_that_do_not_add_up(bank):
    account = bank.account("5")
    Account.update(balance=Account.balance + 1).where(Account.id == account.id).execute()
    [problem] = money.ledger_mismatches()
    assert account.name in problem and "5.000001" in problem


def test_ledger_check_reports_held_money_without_an_open_request(bank):
    account = bank.account("5")
    Account.update(balance=Account.balance - 7, held=Account.held + 7).where(Account.id == account.id).execute()
    [problem] = money.ledger_mismatches()
    assert "open holds" in problem


@pytest.mark.parametrize("micro, text", [(0, "0.000000"), (1, "0.000001"), (12_345_678, "12.345678"),
                                         (-1_500_000, "-1.500000")])
def test_yuan_is_exact(micro, text):
    assert money.yuan(micro) == text
    assert money.parse_yuan(text) == micro


@pytest.mark.parametrize("text", ["1.0000001", "abc", "", "NaN", "Infinity"])
def test_parse_yuan_refuses_what_is_not_an_exact_amount(text):
    with pytest.raises(ValueError):
        money.parse_yuan(text)


def test_keys_are_stored_as_digests_with_a_display_prefix(bank):
    token = bank.key()
    row = models.ApiKey.get()
    assert token.startswith("sk-qc-") and len(token) >= 6 + 32
    assert row.digest == models.ApiKey.digest_of(token) and token not in row.digest
    assert row.prefix == token[:14]
    assert models.ApiKey.lookup(token).id == row.id
