// The Vercel AI SDK's default OpenAI provider (which calls POST /v1/responses) against the gateway.
// node vercel_ai.mjs BASE_URL KEY MODEL generate|stream  →  one JSON line: {text, usage}
import { createOpenAI } from "@ai-sdk/openai";
import { generateText, streamText } from "ai";

const [baseURL, apiKey, model, mode] = process.argv.slice(2);
const openai = createOpenAI({ baseURL, apiKey, headers: { "X-AI-Provider": "deepseek" } });

if (mode === "generate") {
  const { text, usage } = await generateText({ model: openai(model), prompt: "你好" });
  console.log(JSON.stringify({ text, usage }));
} else {
  const result = streamText({ model: openai(model), prompt: "你好", onError: ({ error }) => { throw error; } });
  let text = "";
  for await (const part of result.textStream) text += part;
  console.log(JSON.stringify({ text, usage: await result.usage }));
}
