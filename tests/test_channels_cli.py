"""The command line of channels, aliases and key policies (README "Command line"), through Flask's
CLI runner."""
import json

import pytest

import config_cache
from helpers import MODEL
from models import ApiKey, Channel, ModelAlias, Price

KEY = "sk-live-0123456789abcdef"


@pytest.fixture
def cli(app):
    runner = app.test_cli_runner()
    return lambda *args, **kwargs: runner.invoke(args=list(args), **kwargs)


def add(cli, name="backup", *options, key=KEY):
    return cli("channels", "add", "deepseek", "--name", name, "--base-url", "http://127.0.0.1:9/v1",
               "--api-key-stdin", *options, input=key + "\n")


def test_channels_add_prints_the_id_last_and_stores_the_key_encrypted(cli):
    result = add(cli, "backup", "--priority", "5", "--weight", "3", "--models", f"{MODEL},deepseek-v4-pro",
                 "--map", f"{MODEL}=ep-1")
    assert result.exit_code == 0, result.output
    row = Channel.get(Channel.name == "backup")
    assert result.stdout.strip().splitlines()[-1] == str(row.id)
    assert (row.provider, row.priority, row.weight, row.models, row.model_map) == (
        "deepseek", 5, 3, f"{MODEL},deepseek-v4-pro", f"{MODEL}=ep-1")
    assert KEY not in row.api_key and KEY not in result.output


def test_channels_list_is_json_with_the_key_masked(cli):
    add(cli, "backup")
    listed = json.loads(cli("channels", "list").stdout)
    assert [c for c in listed if c["name"] == "backup"] == [{
        "id": Channel.get(Channel.name == "backup").id, "name": "backup", "provider": "deepseek",
        "base_url": "http://127.0.0.1:9/v1", "priority": 0, "weight": 1, "models": [],
        "state": "enabled", "reason": "", "key": "sk-…cdef"}]
    env = next(c for c in listed if c["name"] == "deepseek")
    assert env["key"] == "sk-…cret" and "sk-upstream-operator-secret" not in json.dumps(listed)


def test_a_built_in_provider_defaults_to_its_own_base_url(cli):
    cli("channels", "add", "deepseek", "--name", "official")
    assert Channel.get(Channel.name == "official").base_url == "https://api.deepseek.com/v1"


@pytest.mark.parametrize("arguments, complaint", [
    (("deepseek", "--name", "deepseek"), "is the name of a provider"),
    (("nosuch", "--name", "x"), "unknown provider"),
    (("openai-compatible", "--name", "local"), "needs its server's base URL"),
    (("deepseek", "--name", "Bad Name"), "lowercase"),
    (("deepseek", "--name", "ok", "--weight", "0"), "from 1 to 1000"),
    (("deepseek", "--name", "ok", "--map", "nonsense"), "caller-name=upstream-name"),
    (("deepseek", "--name", "ok", "--base-url", "ftp://x"), "http:// or https://"),
])
def test_channels_add_refuses_what_it_cannot_take(cli, arguments, complaint):
    channels_before = Channel.select().count()
    result = cli("channels", "add", *arguments)
    assert result.exit_code != 0 and complaint in result.output
    assert Channel.select().count() == channels_before


def test_channels_add_refuses_a_name_taken(cli):
    add(cli, "backup")
    result = add(cli, "backup")
    assert result.exit_code != 0 and "exists already" in result.output


def test_channels_disable_enable_and_remove(cli):
    add(cli, "backup")
    assert cli("channels", "disable", "backup").exit_code == 0
    assert Channel.get(Channel.name == "backup").state == "disabled"
    Channel.update(state="auto_disabled", reason="refused", failures=4).execute()
    assert cli("channels", "enable", "backup").exit_code == 0
    row = Channel.get(Channel.name == "backup")
    assert (row.state, row.reason, row.failures) == ("enabled", "", 0)
    assert cli("channels", "remove", "backup").exit_code == 0
    assert not Channel.select().where(Channel.name == "backup").exists()
    assert cli("channels", "remove", "backup").exit_code != 0


def test_the_environments_channel_is_not_removed_while_its_variable_is_set(cli):
    result = cli("channels", "remove", "deepseek")
    assert result.exit_code != 0 and "DEEPSEEK_API_KEY" in result.output
    assert cli("channels", "disable", "deepseek").exit_code == 0


def test_channels_rekey_encrypts_the_keys_anew(cli, database):
    add(cli, "backup")
    before = Channel.get(Channel.name == "backup").api_key
    options = ["--new-key"] if database.startswith("sqlite") else []
    result = cli("channels", "rekey", *options)
    assert result.exit_code == 0 and "1 channel keys" in result.output
    assert Channel.get(Channel.name == "backup").api_key != before


def test_a_self_hosted_channel_can_be_priced_under_its_name(cli):
    cli("channels", "add", "openai-compatible", "--name", "office-llm", "--base-url", "http://10.0.0.5:8000/v1")
    result = cli("prices", "set", "office-llm", "qwen3-8b", "--input", "0.1", "--cached-input", "0.1",
                 "--output", "0.2")
    assert result.exit_code == 0, result.output
    assert Price.get(Price.provider == "office-llm").model == "qwen3-8b"


def test_models_alias_and_unalias(cli):
    assert cli("models", "alias", "deepseek-chat", f"deepseek/{MODEL}").exit_code == 0
    assert [(a.alias, a.provider, a.model) for a in ModelAlias.select()] == [("deepseek-chat", "deepseek", MODEL)]
    assert cli("models", "alias", "deepseek-chat", "deepseek/deepseek-v4-pro").exit_code == 0
    assert ModelAlias.get().model == "deepseek-v4-pro"
    assert cli("models", "alias", "x", "nosuch/model").exit_code != 0
    assert cli("models", "unalias", "deepseek-chat").exit_code == 0
    assert ModelAlias.select().count() == 0
    assert cli("models", "unalias", "deepseek-chat").exit_code != 0


def test_keys_create_with_policies_and_accounts_show_lists_them(cli):
    cli("accounts", "create", "alice", "--balance", "5")
    result = cli("keys", "create", "alice", "--models", f"{MODEL},deepseek-chat", "--budget", "2.5",
                 "--ips", "10.0.0.0/8,203.0.113.7")
    assert result.exit_code == 0, result.output
    key = ApiKey.get()
    assert (key.models, key.budget, key.ips) == (f"{MODEL},deepseek-chat", 2_500_000,
                                                 "10.0.0.0/8,203.0.113.7/32")
    [shown] = json.loads(cli("accounts", "show", "alice").stdout)["keys"]
    assert (shown["models"], shown["budget"], shown["spent"], shown["ips"]) == (
        [MODEL, "deepseek-chat"], "2.500000", "0.000000", ["10.0.0.0/8", "203.0.113.7/32"])


@pytest.mark.parametrize("option, value", [("--budget", "-1"), ("--ips", "10.0.0.300/8"),
                                           ("--models", "a b")])
def test_keys_create_refuses_a_bad_policy(cli, option, value):
    cli("accounts", "create", "alice")
    assert cli("keys", "create", "alice", option, value).exit_code != 0
    assert ApiKey.select().count() == 0


def test_init_db_upgrades_a_database_of_the_version_before_channels(cli, bank):
    from database import db
    from helpers import drop_change_triggers, served
    key = ApiKey.get(ApiKey.digest == ApiKey.digest_of(bank.key(bank.account("10"))))
    served(key, 1234)
    drop_change_triggers()
    db.execute_sql("DROP INDEX requestlog_channel_created")
    for table, column in (("apikey", "models"), ("apikey", "ips"), ("apikey", "budget"), ("apikey", "spent"),
                          ("apikey", "held"), ("requestlog", "channel"), ("requestlog", "attempts"),
                          ("requestlog", "upstream_ms")):
        db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    for table in ("channelfailure", "modelalias", "channel"):
        db.execute_sql(f"DROP TABLE {table}")
    result = cli("init-db")
    assert result.exit_code == 0, result.output
    upgraded = ApiKey.get_by_id(key.id)
    assert (upgraded.spent, upgraded.held, upgraded.budget, upgraded.models) == (1234, 0, None, "")
    assert "requestlog_channel_created" in {index.name for index in db.get_indexes("requestlog")}
    assert Channel.select().count() == 0 and ModelAlias.select().count() == 0
    assert config_cache.present_triggers() >= set(config_cache.trigger_statements())
    bank.assert_consistent()
