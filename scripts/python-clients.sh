#!/usr/bin/env bash
# The Python client examples' venv (examples/clients/.venv), for npm run test:clients. Without
# python3, or when requirements.txt cannot be installed, it says so and the Python rows are skipped.
set -uo pipefail
cd "$(dirname "$0")/../examples/clients"
if ! command -v python3 >/dev/null 2>&1; then
  echo "test:clients: python3 is not installed, so the Python clients (mcp, fastmcp) are skipped."
  exit 0
fi
if [ ! -x .venv/bin/python ] && ! python3 -m venv .venv; then
  echo "test:clients: python3 -m venv failed (Debian: apt-get install -y python3-venv), so the Python clients are skipped."
  rm -rf .venv
  exit 0
fi
if ! PIP_RETRIES=0 PIP_DISABLE_PIP_VERSION_CHECK=1 .venv/bin/pip install -q -r requirements.txt 2>&1 | grep -v "is ignored: it is neither a file nor a directory"; then
  :
fi
if ! .venv/bin/python -c "import mcp, fastmcp" 2>/dev/null; then
  echo "test:clients: the Python packages in requirements.txt could not be installed, so the Python clients are skipped."
  rm -rf .venv
fi
exit 0
