"""DeepSeek (PROVIDERS.md §3): OpenAI's wire format, usage on the last content chunk."""
from providers.openai_compatible import OpenAICompatible

provider = OpenAICompatible(
    name="deepseek",
    default_base_url="https://api.deepseek.com/v1",
    models=("deepseek-flash", "deepseek-v4-pro", "deepseek-v4-flash", "deepseek-chat",
            "deepseek-reasoner"),
)
