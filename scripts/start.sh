#!/usr/bin/env bash
# Set everything up and start PeerReady on the embedded default: a SQLite file in ./data,
# demo data loaded, demo logins printed. Safe to run again (the demo loader is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
"$VENV/bin/python" -m pip install --quiet -e .
# Where to serve comes from the settings (PEERREADY_HOST, PEERREADY_PORT, environment or .env);
# the demo prints PEERREADY_BASE_URL, which follows them unless it is set.
"$VENV/bin/peerready" db upgrade
"$VENV/bin/peerready" demo
exec "$VENV/bin/peerready" serve
