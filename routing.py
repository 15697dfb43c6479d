"""Where a request goes (docs/channels.md): its provider and model (an alias's target, a
`provider/model` name, the X-AI-Provider header, or the one provider that serves the model), and
the channels that may serve it, in the order to try them.

The order: the highest priority first; within a priority, weighted random by weight; channels
cooling down after failures in a row are left out, unless every channel is cooling.
"""
import random
import time

import channels
import config_cache
from channels import OPENAI_COMPATIBLE, provider_of
from database import Statement
from errors import ApiError, bad_request
from models import Channel, ModelAlias, Price
from providers import PROVIDERS
from providers.base import Upstream

CHANNEL_COLUMNS = ("id", "name", "provider", "base_url", "api_key", "from_env", "priority", "weight",
                   "models", "model_map", "state", "failures", "cooling_until")
CHANNELS_OF = Statement.select("channel", CHANNEL_COLUMNS, "provider = ? OR name = ?")
ALIAS = Statement.select("modelalias", ("provider", "model"), "alias = ?")
SELF_HOSTED = Statement.select("channel", ("id",), "name = ? AND provider = 'openai-compatible'")


def target(model, named_provider):
    """(provider, model) of a request for `model`, with `named_provider` from X-AI-Provider (or
    ''); 400 when the provider is unknown or cannot be told."""
    alias = config_cache.rows(ALIAS, model)
    if alias and named_provider in ("", alias[0][0]):
        return tuple(alias[0])
    prefix, _, rest = model.partition("/")
    if rest and (not named_provider or named_provider == prefix) and is_provider(prefix):
        named_provider, model = prefix, rest
    name = named_provider or inferred_provider(model)
    if not is_provider(name):
        raise bad_request(f"Unknown provider '{name}'. Known providers: "
                          f"{', '.join(provider_names())}.", code="unknown_provider")
    return name, model


def is_provider(name):
    """A built-in provider, or the name of a self-hosted (openai-compatible) channel."""
    return name in PROVIDERS or SELF_HOSTED.run(name).fetchone() is not None


def provider_names():
    return [*PROVIDERS, *(name for name, in Channel.select(Channel.name).where(
        Channel.provider == OPENAI_COMPATIBLE).order_by(Channel.name).tuples())]


def inferred_provider(model):
    priced = {p.provider for p in Price.select(Price.provider).where(Price.model == model)}
    known = {name for name, p in PROVIDERS.items() if model in p.models}
    candidates = priced or known
    if len(candidates) != 1:
        reason = "is served by several providers" if candidates else "matches no provider"
        raise bad_request(f"The model '{model}' {reason}: name one with the X-AI-Provider header.",
                          "model", code="unknown_provider")
    return candidates.pop()


def plan(provider, model, upstreams, keyring, max_attempts):
    """The channels to try for `model` of `provider`, in order, at most `max_attempts`; 503 when
    none is enabled and configured here."""
    rows = with_environment_rows(lambda: [Channel(**dict(zip(CHANNEL_COLUMNS, row))) for row in
                                          config_cache.rows(CHANNELS_OF, provider, provider)],
                                 upstreams, [provider])
    candidates = [row for row in rows if row.state == "enabled" and serves(row, provider, model)]
    channels = [(row, channel) for row in candidates
                if (channel := upstream_of(row, upstreams, keyring)) is not None]
    if not channels:
        raise not_configured(provider, model)
    return [channel for _, channel in ordered(channels, time.time())][:max_attempts]


def with_environment_rows(read_rows, upstreams, providers):
    """`read_rows()`, after making the row of any of `providers` whose channel the environment
    configures and which has none yet (the database was emptied, or the configuration changed
    since the start): the environment says which channels exist, the row keeps their state."""
    rows = read_rows()
    present = {row.name for row in rows}
    missing = {name: upstreams[name] for name in providers
               if name in upstreams and upstreams[name].api_key and name not in present}
    if not missing:
        return rows
    channels.sync_env(missing)
    config_cache.forget()
    return read_rows()


def serves(row, provider, model):
    """Whether an enabled channel row serves `model` of `provider`."""
    of_provider = row.provider == provider or (row.provider == OPENAI_COMPATIBLE and row.name == provider)
    return of_provider and (not row.models or model in row.model_list)


def configured_here(row, upstreams):
    """False for a channel configured by environment variables that this server's lacks."""
    return not row.from_env or bool(row.provider in upstreams and upstreams[row.provider].api_key)


def upstream_of(row, upstreams, keyring):
    """The channel as the vendor module takes it; None if it is not configured here."""
    if not configured_here(row, upstreams):
        return None
    if row.from_env:
        configured = upstreams[row.provider]
        provider, base_url, api_key = configured.provider, configured.base_url, configured.api_key
    else:
        provider, base_url, api_key = provider_of(row), row.base_url, keyring.decrypt(row.api_key)
    return Upstream(provider, base_url, api_key, name=row.name, priority=row.priority,
                    weight=row.weight, models=tuple(row.model_list), model_map=row.model_pairs,
                    state=row.state, failures=row.failures)


def ordered(channels, moment):
    """(row, channel) pairs in the order to try them: priority, then weighted random; cooling
    channels only when all are."""
    ready = [pair for pair in channels if not (pair[0].cooling_until or 0) > moment]
    pool = ready or channels
    # Weighted random order without replacement: each channel draws u^(1/weight) and the highest
    # goes first (Efraimidis and Spirakis), so a channel leads its priority weight/total of the time.
    draws = {id(pair): random.random() ** (1.0 / max(1, pair[0].weight)) for pair in pool}
    return sorted(pool, key=lambda pair: (-pair[0].priority, -draws[id(pair)]))


def not_configured(provider, model):
    setting = f"set {PROVIDERS[provider].env_prefix}_API_KEY or " if provider in PROVIDERS else ""
    return ApiError(503, "provider_not_configured",
                    f"The provider {provider} has no enabled channel for {model} on this gateway: "
                    f"the operator must {setting}add or enable one (flask --app gateway channels).",
                    headers={"x-should-retry": "false"})


def usable_channels(upstreams):
    """The enabled channels configured on this server, as rows."""
    rows = with_environment_rows(lambda: list(Channel.select()), upstreams, upstreams)
    return [row for row in rows if row.state == "enabled" and configured_here(row, upstreams)]


def reachable_prices(upstreams):
    """The prices of the models an enabled channel, configured here, serves now."""
    rows = usable_channels(upstreams)
    return [price for price in Price.select().order_by(Price.provider, Price.model)
            if any(serves(row, price.provider, price.model) for row in rows)]


def available(upstreams):
    """The models callers can reach now, as (name, provider, target model): the priced models an
    enabled channel serves, then the aliases of those."""
    served = [(p.model, p.provider, p.model) for p in reachable_prices(upstreams)]
    reachable = {(provider, model) for _, provider, model in served}
    aliases = [(a.alias, a.provider, a.model) for a in ModelAlias.select().order_by(ModelAlias.alias)
               if (a.provider, a.model) in reachable]
    return served + aliases


def aimed(body, channel):
    """The request body for `channel`: the model under the channel's upstream name, if mapped."""
    upstream_model = channel.model_map.get(body["model"])
    return {**body, "model": upstream_model} if upstream_model else body
