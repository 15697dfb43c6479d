"""The command line for prices (README "Command line"): setting and listing them, the price
list as TOML and the shipped catalogue, through Flask's CLI runner."""
import json
import re

import pytest

from helpers import ROOT
from models import Price
from providers import PROVIDERS


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


def test_prices_list_shows_yuan_per_million_tokens(cli):
    cli("prices", "set", "deepseek", "deepseek-v4-pro", "--input", "4.5", "--cached-input", "0.15",
        "--output", "13.5", "--cache-write", "5", "--max-output", "4096")
    assert json.loads(cli("prices", "list").stdout) == [
        {"provider": "deepseek", "model": "deepseek-flash", "input": "2.000000",
         "cached_input": "0.500000", "cache_write": None, "output": "8.000000", "max_output": 1000},
        {"provider": "deepseek", "model": "deepseek-v4-pro", "input": "4.500000",
         "cached_input": "0.150000", "cache_write": "5.000000", "output": "13.500000",
         "max_output": 4096}]


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
