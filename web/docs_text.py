"""The words of the API documentation page `/`, in 简体中文 and English (web/i18n.py)."""

STRINGS = {
    "docs_title": ("API 文档", "API documentation"),
    "docs_lead": ("一个 OpenAI 兼容的接口，背后是多家大模型提供方。按 token 计费，从账户余额中扣除。",
                  "One OpenAI-compatible API in front of many model providers. You pay per token, "
                  "from your account balance."),
    "base_url": ("接口地址", "Base URL"),
    "start_title": ("一分钟完成第一次调用", "Your first call in a minute"),
    "step_key": ("获取 API 密钥", "Get an API key"),
    "step_key_body": ("登录密钥页面，创建一个密钥。完整密钥只显示一次，请立即妥善保存。",
                      "Sign in to the key page and create a key. The full key is shown once: "
                      "store it safely right away."),
    "step_key_link_out": ("登录并创建密钥", "Sign in and create a key"),
    "step_key_link_in": ("管理我的密钥", "Manage my keys"),
    "step_model": ("选择模型", "Pick a model"),
    "step_model_body": ("在下方「模型与价格」中选一个模型，用 X-AI-Provider 请求头指定它的提供方。",
                        "Choose a model under “Models and prices” below and name its provider in "
                        "the X-AI-Provider header."),
    "step_call": ("发送请求", "Send a request"),
    "step_call_body": ("复制下面任一示例，把 {placeholder} 换成你的完整密钥。",
                       "Copy any example below and put your full key where it says {placeholder}."),
    "key_safety": ("密钥可以花费你的余额：只放在服务器端或环境变量中，不要写进网页前端代码，也不要提交到代码仓库。",
                   "A key spends your balance: keep it on servers or in environment variables, "
                   "never in browser code or a repository."),
    "endpoint_title": ("接口", "Endpoints"),
    "endpoint_chat": ("对话补全，流式或非流式，与 OpenAI Chat Completions 相同。",
                      "Chat completions, streaming or not, as in OpenAI's Chat Completions."),
    "endpoint_models": ("可用模型列表（OpenAI 列表格式）。", "The available models, in OpenAI's list shape."),
    "endpoint_balance": ("账户余额与冻结金额。", "Your account's balance and held amount."),
    "endpoint_model": ("单个模型（OpenAI 格式），不存在时返回 404。", "One model, in OpenAI's shape; 404 when there is none."),
    "endpoint_embeddings": ("文本向量（OpenAI Embeddings 格式），按模型的输入价计费。",
                            "Embeddings, in OpenAI's Embeddings shape, charged at the model's input price."),
    "endpoint_responses": ("OpenAI Responses API（无状态：不保存响应，不支持 previous_response_id），"
                           "适用于 Vercel AI SDK 等客户端。",
                           "OpenAI's Responses API, stateless (nothing is stored; previous_response_id "
                           "is refused), for clients such as the Vercel AI SDK."),
    "endpoint_messages": ("Anthropic Messages API，供 Claude Code 与 Anthropic SDK 使用；错误为 Anthropic 格式。",
                          "Anthropic's Messages API, for Claude Code and the Anthropic SDKs; errors in "
                          "Anthropic's envelope."),
    "endpoint_count_tokens": ("提示词 token 数的上限估计（即冻结金额所依据的数）。",
                              "An upper bound of the prompt's tokens (what the hold is based on)."),
    "embeddings_title": ("文本向量", "Embeddings"),
    "embeddings_body": ("提供向量模型的提供方可通过 /v1/embeddings 调用：input 可以是字符串、字符串数组或 token 数组，"
                        "encoding_format 为 float 或 base64（原样返回）。只按输入 tokens 计费。",
                        "Providers that sell embedding models answer /v1/embeddings: input is a string, "
                        "an array of strings or token arrays; encoding_format is float or base64 "
                        "(returned untouched). Only input tokens are charged."),
    "ex_embeddings": ("OpenAI Python SDK：文本向量", "OpenAI Python SDK: embeddings"),
    "example_prompt_more": ("今天天气很好", "A fine day"),
    "claude_title": ("Claude Code 与 Anthropic SDK", "Claude Code and the Anthropic SDK"),
    "claude_body": ("网关也提供 Anthropic 的 Messages API（/v1/messages），任何提供方的模型都能用："
                    "Anthropic 原样转发，其他提供方自动转换。把 ANTHROPIC_BASE_URL 设为网关地址（不带 /v1），"
                    "把你的网关密钥放进 ANTHROPIC_AUTH_TOKEN 或 ANTHROPIC_API_KEY。",
                    "The gateway also serves Anthropic's Messages API (/v1/messages) for every "
                    "provider's models: relayed as is to Anthropic, translated for the others. Set "
                    "ANTHROPIC_BASE_URL to the gateway's address (without /v1) and put your gateway "
                    "key in ANTHROPIC_AUTH_TOKEN or ANTHROPIC_API_KEY."),
    "claude_provider": ("选择提供方：模型名写成「提供方/模型」（如 deepseek/deepseek-flash），或发送 X-AI-Provider 请求头"
                        "（Claude Code 中设置 ANTHROPIC_CUSTOM_HEADERS=\"X-AI-Provider: deepseek\"）。"
                        "Claude Code 的后台小任务使用 ANTHROPIC_DEFAULT_HAIKU_MODEL 指定的模型，也请设为可用的模型。"
                        "max_tokens 超过模型上限时按上限处理。",
                        "To pick the provider, name the model as provider/model (e.g. "
                        "deepseek/deepseek-flash) or send the X-AI-Provider header (in Claude Code: "
                        "ANTHROPIC_CUSTOM_HEADERS=\"X-AI-Provider: deepseek\"). Claude Code's small "
                        "background tasks use ANTHROPIC_DEFAULT_HAIKU_MODEL: point it at an available "
                        "model too. A max_tokens above the model's largest is lowered to it."),
    "ex_claude_code": ("Claude Code（命令行）", "Claude Code (shell)"),
    "ex_anthropic": ("Anthropic Python SDK（流式）", "Anthropic Python SDK (streaming)"),
    "headers_title": ("请求头", "Request headers"),
    "params_title": ("请求参数", "Body parameters"),
    "col_name": ("名称", "Name"),
    "col_type": ("类型", "Type"),
    "col_required": ("必填", "Required"),
    "col_description": ("说明", "Description"),
    "h_content_type": ("固定为 application/json。", "Always application/json."),
    "h_api_key": ("你的密钥。", "Your key."),
    "h_authorization": ("也可以用 Bearer 方式传密钥（OpenAI SDK 默认如此）。",
                        "Or the key as a Bearer token (the OpenAI SDKs do this)."),
    "h_provider": ("上游提供方，如 {provider}（全部见「选择提供方」）。省略时由模型名推断"
                   "（{model} 或 {provider}/{model}）。",
                   "The upstream provider, e.g. {provider} (all of them under “Choosing a "
                   "provider”). When absent, the model decides ({model}, or {provider}/{model})."),
    "h_request_id": ("你自己的请求编号，原样出现在响应头中，便于排查。",
                     "Your own request id, echoed in the response for tracing."),
    "p_model": ("模型名，见下方模型表。", "The model, from the table below."),
    "p_messages": ("非空的消息数组，每条为 {role, content}。", "A non-empty array of {role, content} messages."),
    "p_temperature": ("0–2，默认 0.7。", "0–2, default 0.7."),
    "p_max_tokens": ("最多生成的 token 数，≥ 1；默认为模型的最大输出。",
                     "The most tokens to generate, ≥ 1; default: the model's maximum output."),
    "p_stream": ("为 true 时以 SSE 流式返回，以 data: [DONE] 结束；默认 false。",
                 "true for an SSE stream that ends with data: [DONE]; default false."),
    "p_stream_options": ("如 {\"include_usage\": true}：流末尾单独返回一条用量。",
                         "e.g. {\"include_usage\": true}: usage in a last chunk of its own."),
    "p_other": ("其他字段原样转发给上游。", "Passed to the upstream unchanged."),
    "p_other_name": ("其他字段", "any other field"),
    "response_body": ("非流式请求返回上游的 chat.completion JSON（含 usage）；流式请求返回 text/event-stream。"
                      "每个响应都带 X-Request-ID；设置了限流的密钥还会收到 x-ratelimit-* 响应头。",
                      "A non-streaming request gets the upstream's chat.completion JSON, with its "
                      "usage; a streaming one gets text/event-stream. Every response carries "
                      "X-Request-ID; a key with rate limits also gets the x-ratelimit-* headers."),
    "openapi_link": ("机器可读的接口描述（OpenAPI 3.1），可导入 Postman、生成客户端或做测试：",
                     "The API as a machine-readable description (OpenAPI 3.1), for Postman, client "
                     "generators or tests:"),
    "examples_title": ("示例", "Examples"),
    "examples_node": ("JavaScript 示例运行于 Node.js 18+（保存为 .mjs 文件）。",
                      "The JavaScript examples run in Node.js 18+ (save them as .mjs)."),
    "example_prompt": ("你好", "Hello"),
    "ex_curl": ("curl（流式）", "curl (streaming)"),
    "ex_python": ("Python requests", "Python requests"),
    "ex_openai": ("OpenAI Python SDK（流式）", "OpenAI Python SDK (streaming)"),
    "ex_fetch": ("JavaScript fetch", "JavaScript fetch"),
    "ex_stream": ("JavaScript 流式 fetch", "JavaScript streaming fetch"),
    "models_title": ("模型与价格", "Models and prices"),
    "models_lead": ("单位：元 / 百万 tokens。命中缓存的输入 tokens 按缓存命中价计费，写入缓存的按缓存写入价计费。",
                    "In 元 per million tokens. Input tokens served from the cache pay the cache-hit "
                    "price; those written to the cache, the cache-write price."),
    "providers_title": ("选择提供方", "Choosing a provider"),
    "providers_lead": ("同一个密钥、同一份余额可调用下列每个提供方。用 X-AI-Provider 请求头指定提供方，"
                       "或在模型名前加上“提供方/”；两者都省略时，由模型名推断（只有一个提供方有该模型时）。"
                       "上面的示例换成下表中的任一写法即可。",
                       "One key and one balance reach every provider below. Name the provider in the "
                       "X-AI-Provider header, or put “provider/” before the model's name; with "
                       "neither, the model's name decides when only one provider has it. Any "
                       "example above works with either form from this table."),
    "col_by_header": ("用请求头", "By header"),
    "col_by_model": ("或用模型名", "Or by model name"),
    "col_provider": ("提供方", "Provider"),
    "col_model": ("模型", "Model"),
    "col_input": ("输入（未命中缓存）", "Input (cache miss)"),
    "col_cached": ("输入（命中缓存）", "Input (cache hit)"),
    "col_cache_write": ("输入（写入缓存）", "Input (cache write)"),
    "cache_write_hint": ("留空＝按未命中价格", "blank: the cache-miss price"),
    "as_cache_miss": ("同未命中", "as cache miss"),
    "col_output": ("输出", "Output"),
    "col_max_output": ("最大输出 tokens", "Max output tokens"),
    "no_models": ("暂无可用模型。", "No models are available yet."),
    "errors_title": ("错误", "Errors"),
    "errors_lead": ("所有错误都是 OpenAI 格式的 JSON：", "Every error is JSON in OpenAI's envelope:"),
    "col_status": ("状态码", "Status"),
    "col_when": ("含义", "When"),
    "e_400": ("请求体不是 JSON、字段缺失或类型/范围不对；未知的提供方或模型；不支持的参数"
              "（如 previous_response_id）。",
              "The body is not JSON, a field is missing or of the wrong type or range; "
              "unknown provider or model; a parameter not supported (e.g. previous_response_id)."),
    "e_401": ("密钥缺失、格式错误、不存在、已吊销或已过期（响应相同）。",
              "The key is missing, malformed, unknown, revoked or expired (one answer for all)."),
    "e_403": ("余额不足以支付本次请求的最大费用。", "The balance cannot cover the request's maximum cost."),
    "e_403_budget": ("密钥的花费预算（预算 − 已花费 − 冻结中）不足以支付本次请求的最大费用。",
                     "The key's spend budget (budget − spent − held) cannot cover the request's "
                     "maximum cost."),
    "e_403_model": ("该密钥不允许使用这个模型。", "The key may not use this model."),
    "e_403_ip": ("该密钥不允许从你的网络地址调用。", "The key may not be used from your network address."),
    "e_404": ("没有这个 API 路由，或它不接受这个方法。", "No such API route, or it does not take this method."),
    "e_413": ("请求体超过上限（默认 4 MiB）。", "The body is over the limit (4 MiB by default)."),
    "e_431": ("某个请求头超过 8190 字节。", "A request header is longer than 8190 bytes."),
    "e_429": ("超出密钥的限流（带 Retry-After）。", "A rate limit of the key is exceeded (with Retry-After)."),
    "e_429_upstream": ("上游限流了网关（带 Retry-After）。",
                       "The upstream rate-limited the gateway (with Retry-After)."),
    "e_500": ("网关内部故障。", "A fault inside the gateway."),
    "e_502": ("上游不可达、出错或返回了无效内容（已依次尝试所有可用渠道）。",
              "The upstream is unreachable, failing or answering nonsense (after every channel "
              "allowed to try)."),
    "e_503": ("该提供方没有已配置且启用的渠道。", "The provider has no configured, enabled channel."),
    "e_503_database": ("网关的数据库暂时不可用；稍后重试（见 Retry-After）。",
                       "The gateway's database is unavailable for now; try again shortly (Retry-After)."),
    "e_504": ("上游未及时响应。", "The upstream did not answer in time."),
    "e_404_model": ("GET /v1/models/{id}：没有这个模型。", "GET /v1/models/{id}: no such model."),
    "billing_title": ("计费与限流", "Billing and rate limits"),
    "billing_body": ("请求开始前，网关按最大可能费用冻结余额，余额不足返回 403；请求结束后按上游报告的实际用量结算，"
                     "多余的冻结金额退回。密钥可以设置每分钟请求数（rpm）、每分钟 tokens（tpm）和并发数，超出返回 429。",
                     "Before a request starts, the gateway holds its largest possible cost from your "
                     "balance (403 when the balance is short); when it ends, it charges the usage the "
                     "upstream reported and returns the rest. A key may have limits on requests per "
                     "minute (rpm), tokens per minute (tpm) and concurrency; beyond them: 429."),
}
