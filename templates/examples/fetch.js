const response = await fetch("{{ base_url }}/v1/chat/completions", {
  method: "POST",
  headers: {
    "Content-Type": "application/json",
    "X-API-Key": "{{ key }}",
    "X-AI-Provider": "{{ provider }}",
  },
  body: JSON.stringify({ model: "{{ model }}", messages: [{ role: "user", content: "{{ prompt }}" }] }),
});
if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);
const answer = await response.json();
console.log(answer.choices[0].message.content);
