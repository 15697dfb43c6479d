"""ByteDance Doubao on Volcengine Ark. Its `max_tokens` leaves the reasoning out, so the cap goes
as `max_completion_tokens`. A caller who asks for `stream_options.chunk_include_usage` gets the
usage so far on every chunk (the last one counts). An account in arrears answers
`AccountOverdueError`."""
from providers.openai_style import OpenAIStyle, codes

provider = OpenAIStyle(
    name="doubao",
    default_base_url="https://ark.cn-beijing.volces.com/api/v3",
    models=("doubao-seed-1-6-251015", "doubao-seed-1-6-flash-250828", "doubao-seed-1-8-251228"),
    embeddings=True,
    thinking="thinking",
    max_tokens_field="max_completion_tokens",
    out_of_balance=codes("AccountOverdueError"),
)
