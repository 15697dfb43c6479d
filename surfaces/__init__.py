"""The API surfaces beyond Chat Completions, each on the gateway's one request path
(docs/surfaces.md): `embeddings` (OpenAI's Embeddings API), `messages` (Anthropic's Messages
API: relayed to a provider that speaks it, translated for the others) and `responses` (OpenAI's
Responses API, stateless, translated). The translations are pure functions of the payloads;
`routes` holds the routes and the glue."""


def register(app):
    from surfaces import routes  # it takes the gateway's path, so it loads after the gateway

    app.register_blueprint(routes.openai_shaped)
    app.register_blueprint(routes.anthropic_shaped)
