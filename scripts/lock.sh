#!/usr/bin/env bash
# Regenerate requirements.lock, the exact versions that scripts/start.sh, scripts/test.sh, the
# Dockerfile and CI install (`pip install -c requirements.lock ...`), from pyproject.toml's
# dependencies and its [test] extra. Pins already in the lock are kept unless you pass
# --upgrade (everything) or --upgrade-package NAME; new dependencies get the newest version that fits.
# Run it after changing pyproject.toml's dependencies and commit both files:
#   bash scripts/lock.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
# uv resolves for every platform at once (--universal) in seconds; it is a tool for this script,
# not a dependency of PeerReady.
"$VENV/bin/python" -m uv --version >/dev/null 2>&1 || "$VENV/bin/python" -m pip install --quiet 'uv>=0.5'
exec "$VENV/bin/python" -m uv pip compile pyproject.toml --extra test --universal --python-version 3.11 \
  --custom-compile-command "bash scripts/lock.sh" -o requirements.lock "$@"
