export ANTHROPIC_BASE_URL={{ base_url }}
export ANTHROPIC_AUTH_TOKEN={{ key }}
export ANTHROPIC_MODEL={{ provider }}/{{ model }}
export ANTHROPIC_DEFAULT_HAIKU_MODEL={{ provider }}/{{ model }}
claude
