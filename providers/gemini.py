"""Google Gemini through its OpenAI-compatible endpoint. Errors come Google's way, often wrapped
in a JSON array: an integer `code` and the reason in `status` (`INVALID_ARGUMENT`,
`RESOURCE_EXHAUSTED`, …); prepaid credits running out is a 429 that says so. Thinking tokens are
billed as output even where `completion_tokens` leaves them out: `total_tokens` counts them."""
from providers.openai_style import ErrorFields, OpenAIStyle, text


def error_fields(body):
    """Google's error, alone or as the first item of an array; its `status` names the reason."""
    if isinstance(body, list) and body:
        body = body[0]
    error = body.get("error") if isinstance(body, dict) else None
    if not isinstance(error, dict):
        return ErrorFields()
    status = text(error.get("status"))
    return ErrorFields(text(error.get("message")), status, status)


def out_of_balance(error):
    return "credits are depleted" in (error.message or "")


provider = OpenAIStyle(
    name="gemini",
    default_base_url="https://generativelanguage.googleapis.com/v1beta/openai/",
    models=("gemini-3.5-flash", "gemini-3-flash-preview", "gemini-3.1-pro-preview"),
    embeddings=True,
    thinking="reasoning_effort",
    output_from_total=True,
    error_fields=error_fields,
    out_of_balance=out_of_balance,
)
