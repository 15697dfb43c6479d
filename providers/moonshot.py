"""Moonshot (Kimi), China's endpoint by default. The last chunk of a stream may carry its usage
inside the choice, and cache hits are `cached_tokens` at the top of usage. The Kimi K2.5 and later
models fix their own sampling and refuse any other temperature. An account out of balance is
`exceeded_current_quota_error`, sent as 403 or as 429."""
from providers.openai_style import OpenAIStyle, codes

provider = OpenAIStyle(
    name="moonshot",
    default_base_url="https://api.moonshot.cn/v1",
    models=("kimi-k3", "kimi-k3.1-pro", "kimi-k2.6", "kimi-k2.5", "moonshot-v1-8k",
            "moonshot-v1-32k", "moonshot-v1-128k"),
    thinking="thinking",
    cached_fields=("cached_tokens", "prompt_tokens_details.cached_tokens"),
    usage_in_choice=True,
    fixed_sampling=("kimi-k2.5", "kimi-k2.6", "kimi-k2.7", "kimi-k3"),
    out_of_balance=codes("exceeded_current_quota_error"),
)
