"""The channels as the operator manages them (docs/channels.md): add, change, enable, disable,
remove, list; the checks of their fields; their keys encrypted and shown masked; and the implicit
channel of each provider configured by environment variables.

Every change is a row of the `channel` table, which every worker reads on every request: it takes
effect at once, everywhere.
"""
import logging

import validation
from credentials import CredentialsError
from logs import fields
from models import Channel, ChannelFailure
from providers import PROVIDERS
from providers.openai_style import OpenAIStyle

log = logging.getLogger("qingcheng")

OPENAI_COMPATIBLE = "openai-compatible"
PROVIDER_TYPES = (*PROVIDERS, OPENAI_COMPATIBLE)
# A built-in provider's name is its implicit channel's; a self-hosted channel's name is a provider's.
RESERVED_NAMES = set(PROVIDER_TYPES)
CHECKS = {
    "name": validation.channel_name,
    "base_url": validation.base_url,
    "api_key": validation.secret,
    "priority": lambda text: validation.integer(text, -1000, 1000),
    "weight": lambda text: validation.integer(text, 1, 1000),
    "models": validation.model_list,
    "model_map": validation.model_map,
}


class FieldError(ValueError):
    """A channel field that cannot be taken: `field` names it, `problem` says why in a word
    (invalid, exists, reserved, required, from_env, unknown) and the message in a sentence."""

    def __init__(self, field, message, problem="invalid"):
        super().__init__(f"{field}: {message}")
        self.field, self.problem = field, problem


def mask(secret):
    """The first 3 and last 4 characters of a key; nothing of a key too short to hide that way."""
    if not secret:
        return ""
    return f"{secret[:3]}…{secret[-4:]}" if len(secret) >= 12 else "…"


def provider_of(row):
    """The provider module that speaks to a channel's upstream."""
    if row.provider == OPENAI_COMPATIBLE:  # vLLM, Ollama and the like serve /embeddings too
        return OpenAIStyle(name=row.name, default_base_url=row.base_url, embeddings=True)
    return PROVIDERS[row.provider]


def checked(**texts):
    """The fields given as text, checked: {field: value}; a FieldError for the first bad one."""
    values = {}
    for field, text in texts.items():
        try:
            values[field] = CHECKS[field](text.strip() if isinstance(text, str) else text)
        except ValueError as error:
            raise FieldError(field, str(error)) from None
    if values.get("name") in RESERVED_NAMES:
        raise FieldError("name", f"{values['name']} is the name of a provider", "reserved")
    return values


def add(keyring, provider, **texts):
    """A new channel from its fields as text; `base_url` defaults to a built-in provider's own."""
    if provider not in PROVIDER_TYPES:
        raise FieldError("provider", f"unknown provider {provider!r}; known: "
                                     f"{', '.join(PROVIDER_TYPES)}", "unknown")
    if not (texts.get("base_url") or "").strip():
        if provider == OPENAI_COMPATIBLE:
            raise FieldError("base_url", "an openai-compatible channel needs its server's base URL",
                             "required")
        texts["base_url"] = PROVIDERS[provider].default_base_url
    values = checked(**texts)
    if Channel.select().where(Channel.name == values["name"]).exists():
        raise FieldError("name", f"a channel named {values['name']} exists already", "exists")
    row = Channel.create(provider=provider, **columns(keyring, values))
    log.info("channel %s (%s) added", row.name, provider)
    return row


def change(keyring, row, **texts):
    """Change a channel's fields given as text; a blank `api_key` keeps the stored one. The base
    URL and key of a channel configured by environment variables stay the environment's."""
    if not (texts.get("api_key") or "").strip() or row.from_env:
        texts.pop("api_key", None)
    if row.from_env:
        texts.pop("base_url", None)
    values = columns(keyring, checked(**texts))
    Channel.update(**values).where(Channel.id == row.id).execute()
    log.info("channel %s changed (%s)", row.name, ", ".join(sorted(texts)))


def columns(keyring, values):
    """Checked values as the table stores them: lists joined, the key encrypted and masked."""
    stored = dict(values)
    if "models" in stored:
        stored["models"] = ",".join(stored["models"])
    if "model_map" in stored:
        stored["model_map"] = ",".join(f"{a}={b}" for a, b in stored["model_map"].items())
    if "api_key" in stored:
        secret = stored.pop("api_key")
        stored.update(api_key=keyring.encrypt(secret), key_hint=mask(secret))
    return stored


def named(name):
    row = Channel.get_or_none(Channel.name == name)
    if row is None:
        raise FieldError("name", f"no channel is named {name!r}", "unknown")
    return row


def enable(name):
    """Back in service: an operator's enable also ends an automatic disable and a cool-down."""
    row = named(name)
    Channel.update(state="enabled", reason="", failures=0, cooling_until=None).where(
        Channel.id == row.id).execute()
    log.warning("channel enabled by the operator", extra=fields(channel=name))


def disable(name):
    """Out of service until the operator enables it again; no probe brings it back."""
    row = named(name)
    Channel.update(state="disabled", reason="").where(Channel.id == row.id).execute()
    log.warning("channel disabled by the operator", extra=fields(channel=name))


def remove(name, upstreams):
    row = named(name)
    if row.from_env and upstreams.get(row.provider) and upstreams[row.provider].api_key:
        raise FieldError("name", f"{name} is configured by {PROVIDERS[row.provider].env_prefix}"
                                 "_API_KEY: unset that variable, or disable the channel", "from_env")
    Channel.delete().where(Channel.id == row.id).execute()
    ChannelFailure.delete().where(ChannelFailure.channel == name).execute()
    log.warning("channel %s removed", name)


def sync_env(upstreams):
    """A channel for each provider whose key the environment sets, named as the provider. Its
    base URL and key stay in the environment; the row keeps its state and health."""
    for name, upstream in upstreams.items():
        if upstream.api_key:
            hint = mask(upstream.api_key)
            (Channel.insert(name=name, provider=name, from_env=True, key_hint=hint)
             .on_conflict(conflict_target=[Channel.name], update={Channel.key_hint: hint},
                          where=Channel.from_env).execute())


def base_url_of(row, upstreams):
    return upstreams[row.provider].base_url if row.from_env else row.base_url


def listing(upstreams):
    """Every channel as `channels list` prints it, the key masked."""
    return [{"id": row.id, "name": row.name, "provider": row.provider,
             "base_url": base_url_of(row, upstreams), "priority": row.priority, "weight": row.weight,
             "models": row.model_list, "state": row.state, "reason": row.reason, "key": row.key_hint}
            for row in Channel.select().order_by(Channel.provider, Channel.priority.desc(), Channel.name)]


def rekey(keyring, new_key):
    """Encrypt every stored channel key anew with the newest encryption key (`new_key`: make one
    first, in the key file); how many there were."""
    if new_key:
        keyring.add_new_key()
    rows = list(Channel.select().where(Channel.api_key != ""))
    with Channel._meta.database.atomic():
        for row in rows:
            Channel.update(api_key=keyring.rotate(row.api_key)).where(Channel.id == row.id).execute()
    keyring.keep_only_newest()
    log.warning("channel keys encrypted anew with the newest encryption key (%d keys)", len(rows))
    return len(rows)


def check_keys(keyring):
    """Every stored key decrypts, or a CredentialsError names the channels whose keys do not."""
    failed = []
    for name, token in Channel.select(Channel.name, Channel.api_key).where(Channel.api_key != "").tuples():
        try:
            keyring.decrypt(token)
        except CredentialsError as error:
            failed.append(name)
            problem = error
    if failed:
        raise CredentialsError(f"{problem} Channels concerned: {', '.join(failed)}.")
