"""Zhipu GLM (open.bigmodel.cn). Usage always comes on the final chunk. Errors carry a business
code as a string whatever the HTTP status: the account codes 1110–1121 (1113: in arrears) are
the operator's problem even when they come as 429; 1302 and its kin are real rate limits."""
from providers.openai_style import OpenAIStyle

ACCOUNT_CODES = range(1110, 1122)


def out_of_balance(error):
    return bool(error.code and error.code.isdigit() and int(error.code) in ACCOUNT_CODES)


provider = OpenAIStyle(
    name="zhipu",
    default_base_url="https://open.bigmodel.cn/api/paas/v4",
    models=("glm-5.3", "glm-5.2", "glm-5.1", "glm-5", "glm-4.7", "glm-4.6", "glm-4-flash"),
    embeddings=True,
    thinking="thinking",
    out_of_balance=out_of_balance,
)
