"""The upstream providers, by name. Each module exposes `provider` with the same small interface:
`name`, `env_prefix`, `default_base_url`, `models`, `request()`, `completion()`, `events()`, `error()`."""
from dataclasses import dataclass

from providers import deepseek

PROVIDERS = {p.name: p for p in (deepseek.provider,)}


@dataclass(frozen=True)
class Upstream:
    """Where and as whom the gateway calls one provider."""
    provider: object
    base_url: str
    api_key: str


def upstreams_from_env(environ):
    """{name: Upstream} for every provider, from `<NAME>_API_KEY` and `<NAME>_BASE_URL`."""
    return {name: Upstream(p, environ.get(f"{p.env_prefix}_BASE_URL") or p.default_base_url,
                           environ.get(f"{p.env_prefix}_API_KEY", ""))
            for name, p in PROVIDERS.items()}
