import requests

response = requests.post(
    "{{ base_url }}/v1/chat/completions",
    headers={"X-API-Key": "{{ key }}", "X-AI-Provider": "{{ provider }}"},
    json={"model": "{{ model }}", "messages": [{"role": "user", "content": "{{ prompt }}"}]},
    timeout=120,
)
response.raise_for_status()
print(response.json()["choices"][0]["message"]["content"])
