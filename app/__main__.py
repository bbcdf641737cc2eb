"""`python -m app ...` runs the `peerready` command (useful when the script is not on PATH)."""

from app.cli import main

main()
