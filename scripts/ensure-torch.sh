#!/bin/sh
# Make sure /usr/bin/python3 can import torch (needed by test/core/snippetsTorch.test.ts,
# which trains a tiny model with the logging snippet and checks the numbers).
# Debian bookworm ships torch 1.13 as python3-torch. The pyenv python3 that may come first
# on PATH has no torch, so everything here uses /usr/bin/python3 explicitly.
set -eu
PY=/usr/bin/python3
if "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "ensure-torch: torch $("$PY" -c 'import torch; print(torch.__version__)') already importable by $PY"
  exit 0
fi
if [ "$(id -u)" != "0" ]; then
  echo "ensure-torch: torch is not importable by $PY and we are not root; install python3-torch" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update
apt-get install -y --no-install-recommends python3-torch
"$PY" -c 'import torch; print("ensure-torch: torch", torch.__version__, "installed")'
