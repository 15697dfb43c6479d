curl -N {{ base_url }}/v1/chat/completions \
  -H "Content-Type: application/json" \
  -H "X-API-Key: {{ key }}" \
  -H "X-AI-Provider: {{ provider }}" \
  -d '{"model": "{{ model }}", "messages": [{"role": "user", "content": "{{ prompt }}"}], "stream": true}'
