#!/usr/bin/env bash
# Set everything up and run the whole test suite: unit, SQLite and PostgreSQL, PDF and browser tests.
# Extra arguments go to pytest (e.g. scripts/test.sh -k scoring).
set -euo pipefail
cd "$(dirname "$0")/.."
# In parallel with pytest-xdist: one worker per core this process may use, each with its own
# databases, live server and Chromium. --dist loadfile keeps a file's tests on one worker, in order,
# so module fixtures are built once. PEERREADY_TEST_WORKERS=N sets the count; 1 runs serially in
# this process (no xdist). The caller's arguments come last, so their own `-n 4` or `--dist load` win.
workers="${PEERREADY_TEST_WORKERS:-$(nproc 2>/dev/null || echo 1)}"
if ! [[ "$workers" =~ ^[0-9]+$ ]] || [ "$workers" -lt 1 ]; then
  echo "PEERREADY_TEST_WORKERS must be a whole number of at least 1 (got '$workers')." >&2
  exit 2
fi
parallel=()
if [ "$workers" -gt 1 ]; then
  parallel=(-n "$workers" --dist loadfile)
fi
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
exec "$VENV/bin/python" -m pytest "${parallel[@]}" "$@"
