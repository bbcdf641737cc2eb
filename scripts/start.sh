#!/usr/bin/env bash
# Set everything up and start PeerReady on the embedded default: a SQLite file in ./data,
# demo data loaded, demo logins printed. Safe to run again (the demo loader is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
"$VENV/bin/python" -m pip install --quiet -e .
HOST="${PEERREADY_HOST:-127.0.0.1}"
PORT="${PEERREADY_PORT:-8000}"
# The demo prints this address with the logins.
export PEERREADY_BASE_URL="${PEERREADY_BASE_URL:-http://$HOST:$PORT}"
"$VENV/bin/peerready" db upgrade
"$VENV/bin/peerready" demo
exec "$VENV/bin/peerready" serve --host "$HOST" --port "$PORT"
