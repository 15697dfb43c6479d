"""The price list as TOML (README "Prices as data"): one table per provider and model, amounts in
元 per million tokens. `parse` checks every entry before anything may be stored; `dumps` writes
what `parse` reads."""
import json
from decimal import Decimal

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

import money
import validation
from providers import PROVIDERS

HEADER = "# Qingcheng Gateway price list, 元 per million tokens: flask --app gateway prices import FILE"
DEFAULT_MAX_OUTPUT = 8192
AMOUNTS = ("input", "cached_input", "cache_write", "output")
OPTIONAL = ("cache_write", "max_output")
FIELDS = AMOUNTS + ("max_output",)


class PriceListError(ValueError):
    """What is wrong with a price list: one line per bad entry, each naming it."""


def parse(text, providers=tuple(PROVIDERS)):
    """[{provider, model, input, cached_input, cache_write, output, max_output}] in micro-yuan
    from a TOML price list, or PriceListError naming every entry that is wrong. `providers`: the
    names it may price (default: the built-in providers; the command line adds self-hosted ones)."""
    try:
        tables = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise PriceListError(f"not a TOML price list: {error}") from None
    entries, problems = [], []
    for provider, models in tables.items():
        try:
            validation.provider(provider, providers)
        except ValueError as error:
            problems.append(f"[{provider}]: {error}")
            continue
        if not isinstance(models, dict):
            problems.append(f"{provider}: must be a table of models")
        else:
            for model, entry in models.items():
                try:
                    entries.append({"provider": provider, "model": model, **_entry(model, entry)})
                except ValueError as error:
                    problems.append(f"{_table(provider, model)}: {error}")
    if problems:
        raise PriceListError("\n".join(problems))
    return entries


def _entry(model, entry):
    validation.model_name(model)
    if not isinstance(entry, dict):
        raise ValueError("must be a table of prices")
    for name, value in entry.items():
        if name not in FIELDS:
            hint = (" (a model name with a dot in it must be quoted, as in [openai.\"gpt-5.4\"])"
                    if isinstance(value, dict) else "")
            raise ValueError(f"unknown field {name!r}{hint}; the fields are {', '.join(FIELDS)}")
    missing = [name for name in FIELDS if name not in entry and name not in OPTIONAL]
    if missing:
        raise ValueError(f"missing {', '.join(missing)}")
    prices = {name: _amount(name, entry[name]) if name in entry else None for name in AMOUNTS}
    return {**prices, "max_output": _max_output(entry.get("max_output", DEFAULT_MAX_OUTPUT))}


def _amount(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise ValueError(f"{name} must be a number of 元, not {value!r}")
    try:
        return validation.amount(str(value))
    except ValueError as error:
        raise ValueError(f"{name}: {error}") from None


def _max_output(value):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"max_output must be a whole number of tokens, not {value!r}")
    try:
        return validation.whole_number(str(value))
    except ValueError as error:
        raise ValueError(f"max_output: {error}") from None


def dumps(prices, header=""):
    """TOML for `prices` (Price rows), in the form `parse` reads."""
    blocks = [header] if header else []
    for price in prices:
        lines = [_table(price.provider, price.model)]
        lines += [f"{name} = {money.plain_yuan(getattr(price, name))}" for name in AMOUNTS
                  if getattr(price, name) is not None]
        lines.append(f"max_output = {price.max_output}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def _table(provider, model):
    return f"[{provider}.{json.dumps(model, ensure_ascii=False)}]"
