"""The command line for keys (README "Command line"): creating, listing and revoking them,
through Flask's CLI runner."""
import json

import pytest

from models import ApiKey


def test_keys_create_prints_the_key_alone_on_the_last_line_once(cli):
    cli("accounts", "create", "alice")
    result = cli("keys", "create", "alice", "--name", "laptop", "--rpm", "60", "--concurrency", "2",
                 "--expires", "2030-01-01")
    token = result.stdout.strip().splitlines()[-1]
    key = ApiKey.lookup(token)
    assert (key.label, key.rpm, key.tpm, key.concurrency) == ("laptop", 60, None, 2)
    assert key.expires == 1893456000.0


@pytest.mark.parametrize("option, value, complaint", [
    ("--expires", "2020-01-01", "2020-01-01T00:00:00Z is in the past"),
    ("--expires", "next week", "a date and time such as"),
    ("--rpm", "0", "a whole number from 1"), ("--tpm", "1e3", "a whole number from 1"),
    ("--concurrency", "9999999999", "a whole number from 1"),
    ("--name", "x" * 101, "a label has at most 100 characters")])
def test_keys_create_refuses_what_the_key_page_refuses(cli, option, value, complaint):
    cli("accounts", "create", "alice")
    result = cli("keys", "create", "alice", option, value)
    assert result.exit_code == 2 and complaint in result.output
    assert ApiKey.select().count() == 0


def test_keys_revoke_by_prefix_stops_the_key_at_once(cli):
    cli("accounts", "create", "alice")
    token = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    assert cli("keys", "revoke", token[:14]).exit_code == 0
    assert ApiKey.lookup(token) is None


def test_keys_revoke_takes_the_whole_key(cli):
    cli("accounts", "create", "alice")
    kept = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    token = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    result = cli("keys", "revoke", token)
    assert result.exit_code == 0 and result.stdout == f"key {token[:14]} revoked\n"
    assert ApiKey.lookup(token) is None and ApiKey.lookup(kept) is not None


def test_keys_revoke_of_an_unknown_whole_key_does_not_repeat_it(cli):
    cli("accounts", "create", "alice")
    token = cli("keys", "create", "alice").stdout.strip().splitlines()[-1]
    unknown = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    result = cli("keys", "revoke", unknown)
    assert result.exit_code == 1 and "no key is the one given" in result.output
    assert unknown not in result.output and ApiKey.lookup(token) is not None


def test_keys_revoke_refuses_an_ambiguous_prefix(cli):
    cli("accounts", "create", "alice")
    cli("keys", "create", "alice")
    cli("keys", "create", "alice")
    result = cli("keys", "revoke", "sk-qc-")
    assert result.exit_code != 0 and "ambiguous" in result.output
    assert ApiKey.select().where(ApiKey.revoked).count() == 0


def test_keys_list_shows_prefixes_never_a_key_or_its_digest(cli):
    cli("accounts", "create", "alice")
    cli("accounts", "create", "bob")
    alices = cli("keys", "create", "alice", "--name", "laptop", "--rpm", "5").stdout.strip().splitlines()[-1]
    bobs = cli("keys", "create", "bob").stdout.strip().splitlines()[-1]
    cli("keys", "revoke", bobs)
    listed = json.loads(cli("keys", "list").stdout)
    assert [(k["account"], k["prefix"], k["label"], k["state"], k["rpm"]) for k in listed] == [
        ("alice", alices[:14], "laptop", "active", 5), ("bob", bobs[:14], "", "revoked", None)]
    assert listed[0]["created"].endswith("Z") and listed[0]["last_used"] is None
    assert [k["prefix"] for k in json.loads(cli("keys", "list", "bob").stdout)] == [bobs[:14]]
    output = cli("keys", "list").stdout
    for token in (alices, bobs):
        assert token not in output and ApiKey.digest_of(token) not in output


def test_keys_list_of_an_unknown_account_is_refused(cli):
    result = cli("keys", "list", "nobody")
    assert result.exit_code == 1 and "no account named 'nobody'" in result.output
