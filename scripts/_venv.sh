# Sourced by start.sh and test.sh: make sure .venv exists with Python 3.11 or newer.
VENV="${PEERREADY_VENV:-.venv}"
if [ ! -x "$VENV/bin/python" ]; then
  PY=""
  for candidate in "${PYTHON:-}" python3.13 python3.12 python3.11 python3; do
    [ -n "$candidate" ] || continue
    # Quietly: a pyenv shim for a version that is not installed prints an error when run.
    if command -v "$candidate" >/dev/null 2>&1 && "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' >/dev/null 2>&1; then
      PY="$candidate"; break
    fi
  done
  if [ -z "$PY" ]; then echo "PeerReady needs Python 3.11 or newer (set PYTHON=/path/to/python3.11)." >&2; exit 1; fi
  "$PY" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --upgrade pip
fi
