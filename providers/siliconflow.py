"""SiliconFlow, hosting open models under `org/Model` names. Its errors are its own
`{"code": 20012, "message": "…", "data": null}`; code 30001 is an account out of balance (sent as
402 or 403). Usage counts cache hits both OpenAI's way and DeepSeek's."""
from providers.openai_style import (ErrorFields, OpenAIStyle, code_text, codes, openai_error_fields,
                                    text)


def error_fields(body):
    if isinstance(body, dict) and "error" not in body:
        return ErrorFields(text(body.get("message")), code_text(body.get("code")))
    return openai_error_fields(body)


provider = OpenAIStyle(
    name="siliconflow",
    default_base_url="https://api.siliconflow.cn/v1",
    models=("deepseek-ai/DeepSeek-V3.2", "deepseek-ai/DeepSeek-V3.1",
            "Qwen/Qwen3-235B-A22B-Instruct-2507"),
    embeddings=True,
    thinking="enable_thinking",
    cached_fields=("prompt_tokens_details.cached_tokens", "prompt_cache_hit_tokens"),
    error_fields=error_fields,
    out_of_balance=codes("30001"),
)
