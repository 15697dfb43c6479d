"""A database made by an earlier release gets the columns added since, at start-up and by
`init-db`, and keeps its data (models.add_missing_columns): prices' cache-write price, the request
log's cache-write tokens."""
import gateway
from database import db
from helpers import MODEL, PRICE, app_config, chat, expected_cost, headers
from models import Price


def made_before(table, column):
    """The table as a release before `column` made it, its rows kept."""
    db.execute_sql(f"ALTER TABLE {table} DROP COLUMN {column}")
    assert column not in columns(table)


def columns(table):
    return {column.name for column in db.get_columns(table)}


def test_start_up_adds_the_cache_write_column_and_keeps_the_prices(app, database, upstream, bank):
    made_before("price", "cache_write")
    upgraded = gateway.create_app(app_config(database, upstream.url))
    assert "cache_write" in columns("price")
    price = Price.of("deepseek", MODEL)
    assert (price.input, price.cached_input, price.output, price.cache_write) == (
        PRICE["input"], PRICE["cached_input"], PRICE["output"], None)
    account = bank.account("10")
    response = upgraded.test_client().post("/v1/chat/completions", json=chat(fake={"chunks": 7}),
                                           headers=headers(bank.key(account)))
    assert response.status_code == 200
    assert bank.charges(account) == [-expected_cost(completion=7)]


def test_init_db_adds_the_cache_write_column_and_a_second_run_changes_nothing(app):
    made_before("price", "cache_write")
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert "cache_write" in columns("price")
    result = runner.invoke(args=["prices", "set", "deepseek", MODEL, "--input", "2", "--cached-input",
                                 "0.5", "--output", "8", "--cache-write", "2.5"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert Price.of("deepseek", MODEL).cache_write == 2_500_000


def test_start_up_adds_the_cache_write_tokens_column_and_keeps_the_request_log(app, client, database,
                                                                             upstream, bank):
    account = bank.account("10")
    token = bank.key(account)
    assert client.post("/v1/chat/completions", json=chat(), headers=headers(token)).status_code == 200
    made_before("requestlog", "cache_write_tokens")
    upgraded = gateway.create_app(app_config(database, upstream.url))
    assert "cache_write_tokens" in columns("requestlog")
    response = upgraded.test_client().post("/v1/chat/completions", json=chat(), headers=headers(token))
    assert response.status_code == 200
    assert [(row.prompt_tokens, row.cached_tokens, row.cache_write_tokens)
            for row in bank.requests(account)] == [(12, 4, 0), (12, 4, 0)]
    bank.assert_consistent()
