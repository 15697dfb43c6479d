import anthropic

client = anthropic.Anthropic(base_url="{{ base_url }}", api_key="{{ key }}",
                             default_headers={"X-AI-Provider": "{{ provider }}"})
with client.messages.stream(model="{{ model }}", max_tokens=1024,
                            messages=[{"role": "user", "content": "{{ prompt }}"}]) as stream:
    for text in stream.text_stream:
        print(text, end="", flush=True)
print()
