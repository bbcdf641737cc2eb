#!/usr/bin/env bash
# Set everything up and start PeerReady on the embedded default: a SQLite file in ./data,
# demo data loaded, demo logins printed, a background-job worker beside the server (its log in
# ./data/worker.log). Ctrl+C stops both. Safe to run again (the demo loader is idempotent).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
"$VENV/bin/python" -m pip install --quiet -c requirements.lock -e .
# Where to serve comes from the settings (PEERREADY_HOST, PEERREADY_PORT, environment or .env);
# the demo prints PEERREADY_BASE_URL, which follows them unless it is set.
"$VENV/bin/peerready" db upgrade
"$VENV/bin/peerready" demo

# A background-job worker beside the server (report PDFs, portfolio PDFs, batches), logging to
# the data folder. It stops with the server: on Ctrl+C or when the server exits, it gets one
# SIGTERM, hands back whatever job it is running and exits.
DATA_DIR="${PEERREADY_DATA_DIR:-data}"
mkdir -p "$DATA_DIR"
WORKER_LOG="$DATA_DIR/worker.log"
if command -v setsid >/dev/null 2>&1; then
  # Its own session: Ctrl+C reaches only the server; the trap below stops the worker once.
  setsid "$VENV/bin/peerready" worker >>"$WORKER_LOG" 2>&1 &
  OWN_SESSION=1
else
  "$VENV/bin/peerready" worker >>"$WORKER_LOG" 2>&1 &
  OWN_SESSION=0
fi
WORKER_PID=$!
stop_worker() {
  if [ "$OWN_SESSION" = 0 ]; then
    # Ctrl+C reached the worker too and it is already stopping: give it a moment first.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$WORKER_PID" 2>/dev/null || break
      sleep 0.5
    done
  fi
  if kill -0 "$WORKER_PID" 2>/dev/null; then
    kill -TERM "$WORKER_PID" 2>/dev/null || true
  fi
  wait "$WORKER_PID" 2>/dev/null || true
}
trap stop_worker EXIT
echo "Background jobs: a worker is running beside the server (log: $WORKER_LOG)."
"$VENV/bin/peerready" serve
