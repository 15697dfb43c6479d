from openai import OpenAI

client = OpenAI(base_url="{{ base_url }}/v1", api_key="{{ key }}",
                default_headers={"X-AI-Provider": "{{ provider }}"})
stream = client.chat.completions.create(
    model="{{ model }}", messages=[{"role": "user", "content": "{{ prompt }}"}], stream=True)
for chunk in stream:
    if chunk.choices:
        print(chunk.choices[0].delta.content or "", end="", flush=True)
print()
