const response = await fetch("{{ base_url }}/v1/chat/completions", {
  method: "POST",
  headers: {
    "Content-Type": "application/json",
    "X-API-Key": "{{ key }}",
    "X-AI-Provider": "{{ provider }}",
  },
  body: JSON.stringify({
    model: "{{ model }}",
    messages: [{ role: "user", content: "{{ prompt }}" }],
    stream: true,
  }),
});
if (!response.ok) throw new Error(`HTTP ${response.status}: ${await response.text()}`);

// Server-sent events: "data: {json}" lines, a blank line between events, "data: [DONE]" last.
const reader = response.body.getReader();
const decoder = new TextDecoder();
let buffered = "";
for (;;) {
  const { done, value } = await reader.read();
  if (done) break;
  buffered += decoder.decode(value, { stream: true });
  const lines = buffered.split("\n");
  buffered = lines.pop(); // an unfinished line waits for the next read
  for (const line of lines) {
    if (!line.startsWith("data: ") || line === "data: [DONE]") continue;
    const chunk = JSON.parse(line.slice("data: ".length));
    if (chunk.error) throw new Error(chunk.error.message);
    process.stdout.write(chunk.choices[0]?.delta?.content ?? "");
  }
}
process.stdout.write("\n");
