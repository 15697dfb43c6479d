"""The web pages' words in 简体中文 and English. Chinese first: it is the default.

The language is the `?lang=` switch (remembered in a cookie), else the browser's Accept-Language.
"""
from flask import g, request

LANGUAGES = ("zh", "en")

STRINGS = {
    # the frame of every page
    "brand": ("青城数智 AI 网关", "Qingcheng AI Gateway"),
    "nav_docs": ("API 文档", "API docs"),
    "nav_keys": ("密钥与用量", "Keys & usage"),
    "nav_admin": ("账户管理", "Accounts"),
    "nav_prices": ("价格", "Prices"),
    "nav_channels": ("渠道", "Channels"),
    "other_language": ("English", "中文"),
    "sign_in": ("登录", "Sign in"),
    "sign_out": ("退出", "Sign out"),
    "footer": ("OpenAI 兼容接口 · 金额精确到 0.000001 元",
               "OpenAI-compatible API · amounts exact to 0.000001 元"),
    "copy": ("复制", "Copy"),
    "copied": ("已复制", "Copied"),
    "copy_failed": ("请手动选择复制", "Select and copy by hand"),
    "yes": ("是", "Yes"),
    "no": ("否", "No"),
    "one_of_two": ("二选一", "One of the two"),
    "save": ("保存", "Save"),
    "cancel": ("取消", "Cancel"),
    "yuan": ("元", "元"),

    # sign-in
    "sign_in_lead": ("用管理员为你开通的账户名和密码登录，管理 API 密钥、查看用量。",
                     "Sign in with the account your administrator opened for you to manage your "
                     "API keys and see your usage."),
    "name": ("账户名", "Account name"),
    "password": ("密码", "Password"),
    "sign_in_failed": ("账户名或密码不正确。", "Wrong account name or password."),
    "sign_in_throttled": ("登录失败次数过多，请 {minutes} 分钟后再试。",
                          "Too many failed sign-ins: try again in {minutes} minutes."),
    "signed_out": ("你已退出登录。", "You have signed out."),
    "no_account_hint": ("还没有账户？请联系网关管理员开通。",
                        "No account yet? Ask the gateway's administrator for one."),

    # changing one's password
    "password_title": ("修改密码", "Change password"),
    "password_lead": ("修改后，此账户在其他浏览器和设备上的登录会全部失效。",
                      "Once it is changed, this account is signed out in every other browser and device."),
    "current_password": ("当前密码", "Current password"),
    "new_password": ("新密码", "New password"),
    "new_password_hint": ("至少 {n} 个字符", "At least {n} characters"),
    "repeat_password": ("再次输入新密码", "The new password again"),
    "current_password_wrong": ("当前密码不正确。", "The current password is wrong."),
    "passwords_differ": ("两次输入的新密码不一致。", "The two new passwords differ."),
    "password_changed": ("密码已修改，其他登录已全部退出。",
                         "Your password is changed; every other session has ended."),

    # the documentation page
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
    "e_504": ("上游未及时响应。", "The upstream did not answer in time."),
    "e_404_model": ("GET /v1/models/{id}：没有这个模型。", "GET /v1/models/{id}: no such model."),
    "billing_title": ("计费与限流", "Billing and rate limits"),
    "billing_body": ("请求开始前，网关按最大可能费用冻结余额，余额不足返回 403；请求结束后按上游报告的实际用量结算，"
                     "多余的冻结金额退回。密钥可以设置每分钟请求数（rpm）、每分钟 tokens（tpm）和并发数，超出返回 429。",
                     "Before a request starts, the gateway holds its largest possible cost from your "
                     "balance (403 when the balance is short); when it ends, it charges the usage the "
                     "upstream reported and returns the rest. A key may have limits on requests per "
                     "minute (rpm), tokens per minute (tpm) and concurrency; beyond them: 429."),

    # the key page
    "keys_title": ("密钥与用量", "Keys and usage"),
    "balance": ("余额", "Balance"),
    "held": ("冻结中", "Held"),
    "held_hint": ("进行中的请求预先冻结的金额", "Set aside for requests in flight"),
    "spent_30d": ("近 30 天花费", "Spent in 30 days"),
    "tokens_30d": ("近 30 天 tokens", "Tokens in 30 days"),
    "keys_section": ("API 密钥", "API keys"),
    "create_key": ("创建密钥", "Create a key"),
    "label": ("名称", "Label"),
    "label_hint": ("例如：笔记本、生产服务器", "e.g. laptop, production"),
    "limits_optional": ("限流、过期与策略（可选，留空表示不限）",
                        "Limits, expiry and policies (optional; blank means none)"),
    "budget": ("花费预算（元）", "Spend budget (元)"),
    "budget_used": ("预算：已花 {spent} / {budget} 元", "Budget: {spent} of {budget} 元 spent"),
    "allowed_models": ("允许的模型", "Allowed models"),
    "allowed_models_hint": ("逗号分隔；留空表示全部", "comma-separated; blank: all"),
    "allowed_ips": ("允许的网络（CIDR）", "Allowed networks (CIDR)"),
    "allowed_ips_hint": ("如 10.0.0.0/8, 203.0.113.7", "e.g. 10.0.0.0/8, 203.0.113.7"),
    "limit_models": ("模型", "models"),
    "limit_ips": ("网络", "networks"),
    "invalid_models": ("允许的模型须为逗号分隔的模型名。", "Allowed models are model names, comma-separated."),
    "invalid_networks": ("允许的网络须为逗号分隔的 CIDR，如 10.0.0.0/8。",
                         "Allowed networks are CIDRs such as 10.0.0.0/8, comma-separated."),
    "rpm": ("每分钟请求数", "Requests per minute"),
    "tpm": ("每分钟 tokens", "Tokens per minute"),
    "concurrency": ("并发数", "Concurrency"),
    "expires": ("过期时间（UTC）", "Expires (UTC)"),
    "limit_rpm": ("RPM", "RPM"),
    "limit_tpm": ("TPM", "TPM"),
    "limit_concurrency": ("并发", "concurrency"),
    "col_prefix": ("前缀", "Prefix"),
    "col_created": ("创建时间", "Created"),
    "col_last_used": ("最近使用", "Last used"),
    "col_limits": ("限制", "Limits"),
    "col_state": ("状态", "State"),
    "col_expires": ("过期", "Expires"),
    "col_actions": ("操作", "Actions"),
    "state_active": ("可用", "active"),
    "state_revoked": ("已吊销", "revoked"),
    "state_expired": ("已过期", "expired"),
    "unlimited": ("不限", "none"),
    "never": ("—", "—"),
    "edit": ("编辑", "Edit"),
    "revoke": ("吊销", "Revoke"),
    "revoke_confirm": ("吊销后该密钥立即失效且无法恢复。确定吊销？",
                       "The key stops working at once and for good. Revoke it?"),
    "no_keys": ("还没有密钥。", "No keys yet."),
    "key_created_title": ("新密钥已创建", "Your new key"),
    "key_created_warning": ("这是唯一一次显示完整密钥。请立即复制并妥善保存：离开此页后无法再次查看，只能吊销后重新创建。",
                            "This is the only time the full key is shown. Copy it now and store it "
                            "safely: once you leave this page it cannot be shown again, only revoked "
                            "and replaced."),
    "key_created_done": ("我已保存，返回密钥列表", "I have stored it: back to my keys"),
    "key_edit_title": ("编辑密钥", "Edit key"),
    "key_saved": ("密钥 {prefix}… 已更新。", "Key {prefix}… updated."),
    "key_revoked": ("密钥 {prefix}… 已吊销，立即生效。", "Key {prefix}… revoked: it stops working at once."),
    "invalid_number": ("「{field}」须为正整数，或留空。", "“{field}” must be a positive whole number, or blank."),
    "invalid_expiry": ("过期时间的格式不正确。", "The expiry is not a valid date and time."),
    "expiry_past": ("过期时间须晚于现在。", "The expiry must be later than now."),
    "label_too_long": ("名称最多 {n} 个字符。", "A label has at most {n} characters."),
    "usage_section": ("用量", "Usage"),
    "chart_cost": ("每日花费（元）", "Spending per day (元)"),
    "chart_tokens": ("每日 tokens", "Tokens per day"),
    "chart_max": ("最高", "max"),
    "chart_days": ("最近 30 天，按 UTC 日期", "Last 30 days, by UTC date"),
    "recent_requests": ("最近请求", "Recent requests"),
    "col_time": ("时间", "Time"),
    "col_key": ("密钥", "Key"),
    "col_prompt": ("输入 tokens（命中缓存 / 写入缓存）", "Input tokens (cache hits / writes)"),
    "col_completion": ("输出 tokens", "Output tokens"),
    "col_cost": ("费用（元）", "Cost (元)"),
    "col_duration": ("耗时", "Duration"),
    "in_flight": ("进行中", "in flight"),
    "estimated": ("估算", "estimated"),
    "released": ("已释放", "released"),
    "no_requests": ("还没有请求记录。", "No requests yet."),
    "page_of": ("第 {page} / {pages} 页", "Page {page} of {pages}"),
    "newer": ("← 较新", "← Newer"),
    "older": ("较早 →", "Older →"),

    # the admin pages
    "accounts_title": ("账户", "Accounts"),
    "create_account": ("新建账户", "New account"),
    "opening_balance": ("初始余额（元）", "Opening balance (元)"),
    "is_admin": ("管理员", "Administrator"),
    "role_admin": ("管理员", "admin"),
    "role_user": ("用户", "user"),
    "col_role": ("角色", "Role"),
    "col_keys": ("密钥数", "Keys"),
    "account_created": ("账户 {name} 已创建。", "Account {name} created."),
    "account_exists": ("账户名 {name} 已存在。", "An account named {name} exists already."),
    "invalid_name": ("账户名须为 1–64 个字母、数字或 . _ - @ 字符。",
                     "An account name is 1–64 letters, digits or . _ - @."),
    "password_too_short": ("密码至少 {n} 个字符。", "A password has at least {n} characters."),
    "invalid_amount": ("「{field}」须为 0 至 10 亿元之间的金额，最多六位小数。",
                       "“{field}” must be an amount from 0 to a billion 元, with at most six decimals."),
    "account_title": ("账户 {name}", "Account {name}"),
    "topup": ("充值", "Top up"),
    "amount": ("金额（元）", "Amount (元)"),
    "note": ("备注", "Note"),
    "note_hint": ("例如：转账单号", "e.g. the transfer's reference"),
    "note_required": ("请填写备注。", "Please write a note."),
    "note_too_long": ("备注最多 {n} 个字符。", "A note has at most {n} characters."),
    "amount_positive": ("充值金额须大于 0。", "A top-up must be more than 0."),
    "topped_up": ("已为 {name} 充值 {amount} 元。", "{amount} 元 added to {name}."),
    "prices_title": ("价格", "Prices"),
    "set_price": ("设置价格", "Set a price"),
    "price_unit": ("元 / 百万 tokens", "元 per million tokens"),
    "price_saved": ("{provider}/{model} 的价格已保存。", "The price of {provider}/{model} is saved."),
    "invalid_model": ("模型名须为 1–100 个字母、数字或 . _ - / : 字符。",
                      "A model name is 1–100 letters, digits or . _ - / :."),
    "unknown_provider": ("未知的提供方。", "Unknown provider."),
    "back_to_accounts": ("← 所有账户", "← All accounts"),
    "read_only_keys": ("只读视图：密钥只能由其所有者管理。", "Read-only: only their owner manages these keys."),

    # the channel page
    "channels_title": ("渠道", "Channels"),
    "channels_lead": ("渠道是提供方的一个上游账户。请求先发往优先级最高的渠道，同一优先级内按权重随机；"
                      "在第一个字节到达调用方之前，渠道失败（连接错误、超时、429、5xx、401/402/403）会自动换下一个渠道。",
                      "A channel is one upstream account of a provider. Requests go to the highest "
                      "priority first, by weight within it; until the first byte reaches the caller, "
                      "a failing channel (connection error, timeout, 429, 5xx, 401/402/403) hands the "
                      "request to the next."),
    "channels_health_hint": ("成功率与延迟为最近一小时：延迟是上游开始返回内容的中位时间。",
                             "Success rate and latency cover the last hour; latency is the median "
                             "time until the upstream's answer began."),
    "col_channel": ("渠道", "Channel"),
    "col_priority_weight": ("优先级 / 权重", "Priority / weight"),
    "col_models": ("模型", "Models"),
    "col_channel_key": ("上游密钥", "Upstream key"),
    "col_success": ("成功率", "Success"),
    "col_latency": ("延迟中位数", "Median latency"),
    "col_last_error": ("最近错误", "Last error"),
    "all_models": ("全部", "all"),
    "channel_refused": ("上游拒绝了密钥或余额（{detail}）", "the upstream refused its key or funds ({detail})"),
    "no_channels": ("还没有渠道：添加一个，或设置提供方的 API 密钥环境变量。",
                    "No channels yet: add one, or set a provider's API key variable."),
    "no_channel_key": ("无", "none"),
    "channel_enabled": ("启用", "enabled"),
    "channel_disabled": ("已停用", "disabled"),
    "channel_auto_disabled": ("自动停用", "auto-disabled"),
    "channel_cooling": ("冷却中：连续失败后暂时跳过", "cooling down after failures in a row"),
    "channel_env_unset": ("本服务器未设置", "not set on this server"),
    "channel_enable": ("启用", "Enable"),
    "channel_disable": ("停用", "Disable"),
    "channel_remove": ("删除", "Remove"),
    "remove_channel_confirm": ("删除渠道 {name} 及其保存的密钥？", "Remove the channel {name} and its stored key?"),
    "add_channel": ("添加渠道", "Add a channel"),
    "channel_name": ("渠道名", "Channel name"),
    "channel_name_hint": ("如 deepseek-backup", "e.g. deepseek-backup"),
    "channel_base_url": ("Base URL", "Base URL"),
    "channel_base_url_hint": ("留空使用提供方官方地址", "blank: the provider's own"),
    "channel_api_key": ("上游 API 密钥", "Upstream API key"),
    "channel_key_hint": ("只在此输入一次，之后仅显示掩码", "entered once, then shown masked"),
    "channel_key_keep": ("留空则保留 {hint}", "blank keeps {hint}"),
    "channel_priority": ("优先级", "Priority"),
    "channel_weight": ("权重", "Weight"),
    "channel_models": ("模型（逗号分隔）", "Models (comma-separated)"),
    "channel_models_hint": ("留空表示全部", "blank: all"),
    "channel_model_map": ("模型映射", "Model map"),
    "channel_map_hint": ("如 doubao-pro=ep-2024…", "e.g. doubao-pro=ep-2024…"),
    "channel_edit_title": ("编辑渠道 {name}", "Edit channel {name}"),
    "channel_from_env_note": ("此渠道由环境变量 {variable} 配置：Base URL 与密钥在环境中修改。",
                              "This channel is configured by {variable}: change its base URL and "
                              "key in the environment."),
    "back_to_channels": ("← 所有渠道", "← All channels"),
    "channel_added": ("渠道 {name} 已添加。", "Channel {name} added."),
    "channel_saved": ("渠道 {name} 已保存。", "Channel {name} saved."),
    "channel_enable_done": ("渠道 {name} 已启用，立即生效。", "Channel {name} enabled, at once."),
    "channel_disable_done": ("渠道 {name} 已停用，立即生效。", "Channel {name} disabled, at once."),
    "channel_remove_done": ("渠道 {name} 已删除。", "Channel {name} removed."),
    "channel_name_invalid": ("渠道名须为 1–64 个小写字母、数字或 . _ - 字符。",
                             "A channel name is 1–64 lowercase letters, digits or . _ -."),
    "channel_base_url_invalid": ("Base URL 须以 http:// 或 https:// 开头，止于 /chat/completions 之前。",
                                 "A base URL starts with http:// or https:// and ends before "
                                 "/chat/completions."),
    "channel_api_key_invalid": ("API 密钥只能包含可打印字符，不含空格。",
                                "An API key is printable characters without spaces."),
    "channel_priority_invalid": ("优先级须为 -1000 到 1000 的整数。", "Priority is a whole number from -1000 to 1000."),
    "channel_weight_invalid": ("权重须为 1 到 1000 的整数。", "Weight is a whole number from 1 to 1000."),
    "channel_models_invalid": ("模型须为逗号分隔的模型名。", "Models are model names, comma-separated."),
    "channel_model_map_invalid": ("模型映射须为逗号分隔的 调用名=上游名。",
                                  "A model map is caller-name=upstream-name pairs, comma-separated."),
    "channel_exists": ("同名渠道已存在。", "A channel of that name exists already."),
    "channel_reserved": ("这是提供方的名字，不能用作渠道名。", "That is a provider's name; choose another."),
    "channel_required": ("openai-compatible 渠道须填写其服务器的 Base URL。",
                         "An openai-compatible channel needs its server's base URL."),
    "channel_unknown": ("未知的提供方或渠道。", "Unknown provider or channel."),
    "channel_from_env": ("此渠道由环境变量配置：请先取消该变量，或停用渠道。",
                         "This channel is configured by an environment variable: unset it, or "
                         "disable the channel."),
    "channel_no_encryption_key": ("无法加密渠道密钥：请设置 ENCRYPTION_KEY（使用 PostgreSQL 时必需）。",
                                  "Cannot encrypt the channel key: set ENCRYPTION_KEY (required with "
                                  "PostgreSQL)."),

    # error pages
    "error_400": ("请求无效：表单可能已过期，请刷新页面后重试。",
                  "Bad request: the form may have expired; reload the page and try again."),
    "error_403": ("你没有权限访问此页面。", "You may not open this page."),
    "error_404": ("找不到这个页面。", "There is no such page."),
    "error_500": ("网关出了故障，请稍后再试。", "The gateway failed; please try again later."),
    "error_other": ("出了点问题。", "Something went wrong."),
}

TEXT = {lang: {name: pair[i] for name, pair in STRINGS.items()} for i, lang in enumerate(LANGUAGES)}


def choose(asked, remembered, accept_languages):
    """The page language: the one asked for, else the remembered one, else the browser's, else zh."""
    for lang in (asked, remembered):
        if lang in LANGUAGES:
            return lang
    return accept_languages.best_match(LANGUAGES, default=LANGUAGES[0])


def language():
    if "lang" not in g:
        g.lang = choose(request.args.get("lang"), request.cookies.get("lang"),
                        request.accept_languages)
    return g.lang


def t(name, /, **values):
    """The text `name` in the request's language, with `values` filled in."""
    text = TEXT[language()][name]
    return text.format(**values) if values else text
