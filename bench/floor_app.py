"""The floor of the gateway's stack, as a benchmark target: Flask and requests under gunicorn's gevent
workers, forwarding a chat completion (streamed or not) to the upstream and back, and nothing else:
no key, no rate limits, no hold, no settlement, no log line, no metrics."""
import os

import requests
from flask import Flask, Response, request

app = Flask(__name__)
session = requests.Session()
session.trust_env = False
UPSTREAM = os.environ["FLOOR_UPSTREAM"] + "/v1/chat/completions"


@app.post("/v1/chat/completions")
def chat_completions():
    streamed = bool((request.get_json(silent=True) or {}).get("stream"))
    answer = session.post(UPSTREAM, data=request.get_data(), stream=streamed,
                          headers={"Content-Type": "application/json"})
    body = answer.iter_content(chunk_size=None) if streamed else answer.content
    return Response(body, answer.status_code, content_type=answer.headers.get("Content-Type"))


@app.get("/")
def ready():
    return "ok"
