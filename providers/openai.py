"""OpenAI, whose wire format the others follow. Its reasoning models count their reasoning in
`max_completion_tokens`, refuse `max_tokens`, and refuse any sampling but their own; explicit
cache writes are counted apart; an account out of credit answers 429 `insufficient_quota`, which
is not a rate limit."""
from providers.openai_style import OpenAIStyle, codes

provider = OpenAIStyle(
    name="openai",
    default_base_url="https://api.openai.com/v1",
    models=("gpt-5.6-sol", "gpt-5.5", "gpt-5.4", "gpt-5.4-mini", "gpt-5.4-nano"),
    embeddings=True,
    thinking="reasoning_effort",
    cache_write_fields=("prompt_tokens_details.cache_write_tokens",),
    max_tokens_field="max_completion_tokens",
    fixed_sampling=("gpt-5", "o1", "o3", "o4"),
    out_of_balance=codes("insufficient_quota"),
)
