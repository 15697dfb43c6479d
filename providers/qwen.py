"""Alibaba Qwen through DashScope's OpenAI-compatible mode (Beijing by default; other regions and
workspace hosts by QWEN_BASE_URL, with a key of that region). Explicit cache writes are counted
apart; an account in arrears answers 400 `Arrearage`: the operator's problem, not the caller's."""
from providers.openai_style import OpenAIStyle, codes

provider = OpenAIStyle(
    name="qwen",
    default_base_url="https://dashscope.aliyuncs.com/compatible-mode/v1",
    models=("qwen3-max", "qwen3.5-plus", "qwen-plus", "qwen-flash", "qwen-turbo"),
    embeddings=True,
    thinking="enable_thinking",
    cache_write_fields=("prompt_tokens_details.cache_creation_input_tokens",),
    out_of_balance=codes("Arrearage"),
)
