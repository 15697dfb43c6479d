#!/usr/bin/env bash
# Installs what bench/run.py compares against (and py-spy for --profile); safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

if [ ! -x .venv-litellm/bin/litellm ]; then
  python3 -m venv .venv-litellm
  .venv-litellm/bin/pip install -q 'litellm[proxy]'
fi

if [ ! -d portkey/node_modules/@portkey-ai/gateway ]; then
  (cd portkey && npm install --no-audit --no-fund --no-package-lock)
fi

if [ ! -x .venv-pyspy/bin/py-spy ]; then
  python3 -m venv .venv-pyspy
  .venv-pyspy/bin/pip install -q py-spy
fi
