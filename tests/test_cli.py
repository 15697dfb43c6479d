"""The operator's command line (README "Command line"), through Flask's CLI runner."""
import json
import re

import pytest

from helpers import PASSWORD, ROOT, post_form, sign_in
from models import Account, ApiKey, LedgerEntry, Price, WebSession
from providers import PROVIDERS
from web import auth


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


def test_prices_set_stores_micro_yuan_per_million_tokens_and_updates(cli):
    cli("prices", "set", "deepseek", "deepseek-v4-pro", "--input", "4.5", "--cached-input", "0.15",
        "--output", "13.5", "--max-output", "4096")
    cli("prices", "set", "deepseek", "deepseek-v4-pro", "--input", "9", "--cached-input", "0.3",
        "--output", "27")
    price = Price.get(Price.model == "deepseek-v4-pro")
    assert (price.input, price.cached_input, price.output, price.max_output) == (9_000_000, 300_000, 27_000_000, 8192)


def test_prices_set_takes_a_cache_write_price_and_without_one_means_the_miss_price(cli):
    cli("prices", "set", "qwen", "qwen3-max", "--input", "2.5", "--cached-input", "0.5",
        "--output", "10", "--cache-write", "3.125")
    assert Price.get(Price.model == "qwen3-max").cache_write == 3_125_000
    cli("prices", "set", "qwen", "qwen3-max", "--input", "2.5", "--cached-input", "0.5", "--output", "10")
    assert Price.get(Price.model == "qwen3-max").cache_write is None


def test_prices_set_refuses_an_unknown_provider(cli):
    assert cli("prices", "set", "nosuch", "m", "--input", "1", "--cached-input", "1", "--output", "1").exit_code != 0


@pytest.mark.parametrize("args", [("nosuch", "m"), ("deepseek", "a model"), ("deepseek", "")])
def test_prices_set_refuses_what_the_prices_page_refuses(cli, args):
    result = cli("prices", "set", *args, "--input", "1", "--cached-input", "1", "--output", "1")
    assert result.exit_code == 2 and Price.select().where(Price.model == args[1]).count() == 0


def test_prices_set_refuses_a_negative_price(cli):
    result = cli("prices", "set", "deepseek", "m", "--input", "-1", "--cached-input", "0", "--output", "1")
    assert result.exit_code == 2 and "from 0 and at most" in result.output
    assert Price.get_or_none(Price.model == "m") is None


# --- lists --------------------------------------------------------------------------------------

def test_accounts_list_shows_every_account_by_name(cli):
    cli("accounts", "create", "bob", "--balance", "2")
    cli("accounts", "create", "alice", "--admin")
    cli("keys", "create", "bob")
    assert json.loads(cli("accounts", "list").stdout) == [
        {"name": "admin", "admin": True, "balance": "0.000000", "held": "0.000000", "keys": 0},
        {"name": "alice", "admin": True, "balance": "0.000000", "held": "0.000000", "keys": 0},
        {"name": "bob", "admin": False, "balance": "2.000000", "held": "0.000000", "keys": 1}]


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


def test_prices_list_shows_yuan_per_million_tokens(cli):
    cli("prices", "set", "deepseek", "deepseek-v4-pro", "--input", "4.5", "--cached-input", "0.15",
        "--output", "13.5", "--cache-write", "5", "--max-output", "4096")
    assert json.loads(cli("prices", "list").stdout) == [
        {"provider": "deepseek", "model": "deepseek-flash", "input": "2.000000",
         "cached_input": "0.500000", "cache_write": None, "output": "8.000000", "max_output": 1000},
        {"provider": "deepseek", "model": "deepseek-v4-pro", "input": "4.500000",
         "cached_input": "0.150000", "cache_write": "5.000000", "output": "13.500000",
         "max_output": 4096}]


# --- passwords ----------------------------------------------------------------------------------

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

def test_prices_set_an_embedding_model_prices_its_input_alone(cli):
    result = cli("prices", "set", "deepseek", "embed-v1", "--input", "0.5", "--embedding")
    assert result.exit_code == 0, result.output
    price = Price.get(Price.model == "embed-v1")
    assert (price.input, price.cached_input, price.output) == (500_000, 0, 0)


@pytest.mark.parametrize("args", [("--embedding", "--output", "1"), ("--output", "1")])
def test_prices_set_wants_every_part_of_a_chat_price_and_none_beyond_an_embeddings(cli, args):
    result = cli("prices", "set", "deepseek", "m", "--input", "1", *args)
    assert result.exit_code != 0
    assert not Price.select().where(Price.model == "m").exists()


def test_ledger_check_passes_on_consistent_books_and_fails_otherwise(cli):
    cli("accounts", "create", "alice", "--balance", "2")
    assert cli("ledger", "check").exit_code == 0
    Account.update(balance=1).execute()
    result = cli("ledger", "check")
    assert result.exit_code == 1 and "MISMATCH alice" in result.output


# --- the price list as TOML -------------------------------------------------------------------

PRICE_LIST = """
[deepseek."deepseek-flash"]
input = 2
cached_input = 0.04
output = 8
max_output = 32768

[qwen."qwen3-max"]
input = 2.5
cached_input = 0.5
cache_write = 3.125
output = 10

[siliconflow."deepseek-ai/DeepSeek-V3.1"]
input = 2
cached_input = 2
output = 8
max_output = 4096
"""


def prices_now():
    return sorted((p.provider, p.model, p.input, p.cached_input, p.cache_write, p.output, p.max_output)
                  for p in Price.select())


def test_prices_import_sets_every_entry_and_replaces_what_was_there(cli, tmp_path):
    (tmp_path / "prices.toml").write_text(PRICE_LIST)
    result = cli("prices", "import", str(tmp_path / "prices.toml"))
    assert result.exit_code == 0, result.output
    assert "3 prices imported" in result.output
    assert prices_now() == [
        ("deepseek", "deepseek-flash", 2_000_000, 40_000, None, 8_000_000, 32768),
        ("qwen", "qwen3-max", 2_500_000, 500_000, 3_125_000, 10_000_000, 8192),
        ("siliconflow", "deepseek-ai/DeepSeek-V3.1", 2_000_000, 2_000_000, None, 8_000_000, 4096)]


BAD_ENTRIES = [
    ('[nosuch."m"]\ninput = 1\ncached_input = 1\noutput = 1', '[nosuch]: unknown provider'),
    ('[qwen."m"]\ninput = 1\ncached_input = 1\noutput = 1\ncached-input = 1',
     '[qwen."m"]: unknown field \'cached-input\''),
    ('[openai.gpt-5.4]\ninput = 1\ncached_input = 1\noutput = 1',
     '[openai."gpt-5"]: unknown field \'4\' (a model name with a dot in it must be quoted'),
    ('[qwen."m"]\ninput = 1\noutput = 1', '[qwen."m"]: missing cached_input'),
    ('[qwen."m"]\ninput = -1\ncached_input = 1\noutput = 1', '[qwen."m"]: input: an amount must be from 0'),
    ('[qwen."m"]\ninput = 0.0000001\ncached_input = 1\noutput = 1',
     '[qwen."m"]: input: at most six decimals'),
    ('[qwen."m"]\ninput = "2"\ncached_input = 1\noutput = 1', '[qwen."m"]: input must be a number of 元'),
    ('[qwen."m"]\ninput = 1\ncached_input = 1\noutput = 1\nmax_output = 0',
     '[qwen."m"]: max_output: a whole number from 1'),
    ('[qwen."m"]\ninput = 1\ncached_input = 1\noutput = 1\nmax_output = 1.5',
     '[qwen."m"]: max_output must be a whole number'),
    ('[qwen."a b"]\ninput = 1\ncached_input = 1\noutput = 1', '[qwen."a b"]: a model name is'),
    ('[qwen."m"\ninput = 1', 'not a TOML price list'),
    ('zhipu = 5', 'zhipu: must be a table of models'),
]


@pytest.mark.parametrize("bad, named", BAD_ENTRIES)
def test_prices_import_names_the_bad_entry_and_changes_nothing(cli, tmp_path, bad, named):
    before = prices_now()
    (tmp_path / "prices.toml").write_text(bad + "\n" + PRICE_LIST)
    result = cli("prices", "import", str(tmp_path / "prices.toml"))
    assert result.exit_code == 1
    assert "nothing imported" in result.output and named in result.output
    assert prices_now() == before


def test_prices_import_names_every_bad_entry_at_once(cli, tmp_path):
    second = BAD_ENTRIES[3][0].replace('"m"', '"n"')
    (tmp_path / "prices.toml").write_text(BAD_ENTRIES[1][0] + "\n\n" + second)
    output = cli("prices", "import", str(tmp_path / "prices.toml")).output
    assert '[qwen."m"]: unknown field' in output and '[qwen."n"]: missing cached_input' in output


def test_prices_export_is_what_import_reads_back(cli, tmp_path):
    (tmp_path / "prices.toml").write_text(PRICE_LIST)
    cli("prices", "import", str(tmp_path / "prices.toml"))
    exported = cli("prices", "export").stdout
    assert ('[qwen."qwen3-max"]\ninput = 2.5\ncached_input = 0.5\ncache_write = 3.125\noutput = 10\n'
            in exported)
    before = prices_now()
    Price.delete().execute()
    (tmp_path / "exported.toml").write_text(exported)
    assert cli("prices", "import", str(tmp_path / "exported.toml")).exit_code == 0
    assert prices_now() == before


CATALOGUE = ROOT / "providers" / "catalogue.toml"


def test_the_catalogue_prices_every_built_in_provider_with_its_date_sources_and_rate():
    text = CATALOGUE.read_text()
    listed = {name.split(".")[0].strip("[") for name in re.findall(r"^\[[^\]]+\]", text, re.M)}
    assert set(PROVIDERS) <= listed
    assert re.search(r"Compiled 20\d\d-\d\d-\d\d", text) and "元 per US$" in text
    for provider in listed:
        assert re.search(rf"^# .*\n(#.*\n)*\[{provider}\.", text, re.M), f"{provider} has no source note"


def test_the_catalogue_imports_whole(cli):
    result = cli("prices", "import", str(CATALOGUE))
    assert result.exit_code == 0, result.output
    assert {p.provider for p in Price.select()} >= set(PROVIDERS)
    flash = Price.get((Price.provider == "deepseek") & (Price.model == "deepseek-flash"))
    assert (flash.input, flash.cached_input, flash.output) == (2_000_000, 40_000, 8_000_000)
