#!/usr/bin/env bash
# Installs the comparison targets for bench/run.py; safe to run again.
set -euo pipefail
cd "$(dirname "$0")"

if ! .venv-litellm/bin/litellm --help >/dev/null 2>&1; then
  python3 -m venv .venv-litellm
  .venv-litellm/bin/pip install -q 'litellm[proxy]'
fi

if [ ! -d portkey/node_modules/@portkey-ai/gateway ]; then
  (cd portkey && npm install --no-audit --no-fund)
fi
