from openai import OpenAI

client = OpenAI(base_url="{{ base_url }}/v1", api_key="{{ key }}",
                default_headers={"X-AI-Provider": "{{ embedding_provider }}"})
answer = client.embeddings.create(model="{{ embedding_model }}", input=["{{ prompt }}", "{{ prompt_more }}"])
for item in answer.data:
    print(item.index, len(item.embedding))
print("tokens:", answer.usage.prompt_tokens)
