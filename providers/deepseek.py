"""DeepSeek: `: keep-alive` comments while it queues a stream, blank lines before a JSON answer,
usage on the last content chunk, cache hits as `prompt_cache_hit_tokens`, reasoning switched by
`thinking`; no embeddings. Running out of balance is HTTP 402."""
from providers.openai_style import OpenAIStyle

provider = OpenAIStyle(
    name="deepseek",
    default_base_url="https://api.deepseek.com/v1",
    models=("deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash", "deepseek-chat",
            "deepseek-reasoner"),
    thinking="thinking",
    cached_fields=("prompt_cache_hit_tokens",),
)
