#!/usr/bin/env bash
# Set everything up and run the whole test suite: unit, SQLite and PostgreSQL, PDF and browser tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k scoring).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
"$VENV/bin/python" -m pip install --quiet -c requirements.lock '.[test]'
# Browser tests drive Debian's Chromium; PDF tests render pages with pdftoppm.
if ! command -v chromium >/dev/null 2>&1 || ! command -v pdftoppm >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium poppler-utils >/dev/null
  else
    echo "Note: install chromium and poppler-utils (apt-get install chromium poppler-utils) to run browser and PDF page tests." >&2
  fi
fi
exec "$VENV/bin/python" -m pytest "$@"
