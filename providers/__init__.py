"""The upstream side: the provider contract (`base`), OpenAI's wire format shared by most vendors
(`openai_style`), one module per vendor (Anthropic's translation in two), the relay (`relay`) and
SSE framing (`sse`)."""
from providers import (anthropic, deepseek, doubao, gemini, moonshot, openai, qwen, siliconflow,
                       zhipu)
from providers.base import Upstream

PROVIDERS = {p.name: p for p in (deepseek.provider, openai.provider, anthropic.provider,
                                 gemini.provider, qwen.provider, moonshot.provider,
                                 zhipu.provider, doubao.provider, siliconflow.provider)}


def upstreams_from_env(environ):
    """{name: Upstream} for every provider, from `<NAME>_API_KEY` and `<NAME>_BASE_URL`."""
    return {name: Upstream(p, environ.get(f"{p.env_prefix}_BASE_URL") or p.default_base_url,
                           environ.get(f"{p.env_prefix}_API_KEY", ""))
            for name, p in PROVIDERS.items()}
