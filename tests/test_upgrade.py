"""A database made by an earlier release gets the columns added since, at start-up and by
`init-db`, and keeps its data (models.add_missing_columns)."""
from peewee import BigIntegerField, CharField, IntegerField, Model

import gateway
from database import db
from helpers import MODEL, app_config, chat, expected_cost, headers
from models import Price


class FirstReleasePrice(Model):
    """The price table as the first release made it: no cache-write price."""
    provider = CharField()
    model = CharField()
    input = BigIntegerField()
    cached_input = BigIntegerField()
    output = BigIntegerField()
    max_output = IntegerField()

    class Meta:
        database = db
        table_name = "price"
        indexes = ((("provider", "model"), True),)


def make_first_release_prices():
    db.drop_tables([Price])
    db.create_tables([FirstReleasePrice])
    FirstReleasePrice.create(provider="deepseek", model=MODEL, input=2_000_000, cached_input=500_000,
                             output=8_000_000, max_output=1000)
    assert "cache_write" not in price_columns()


def price_columns():
    return {column.name for column in db.get_columns("price")}


def test_start_up_adds_the_cache_write_column_and_keeps_the_prices(app, database, upstream, bank):
    make_first_release_prices()
    upgraded = gateway.create_app(app_config(database, upstream.url))
    assert "cache_write" in price_columns()
    price = Price.of("deepseek", MODEL)
    assert (price.input, price.cached_input, price.output, price.cache_write) == (2_000_000, 500_000,
                                                                               8_000_000, None)
    account = bank.account("10")
    response = upgraded.test_client().post("/v1/chat/completions", json=chat(fake={"chunks": 7}),
                                           headers=headers(bank.key(account)))
    assert response.status_code == 200
    assert bank.charges(account) == [-expected_cost(completion=7)]


def test_init_db_adds_the_cache_write_column_and_a_second_run_changes_nothing(app):
    make_first_release_prices()
    runner = app.test_cli_runner()
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert "cache_write" in price_columns()
    result = runner.invoke(args=["prices", "set", "deepseek", MODEL, "--input", "2", "--cached-input",
                                 "0.5", "--output", "8", "--cache-write", "2.5"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["init-db"]).exit_code == 0
    assert Price.of("deepseek", MODEL).cache_write == 2_500_000
