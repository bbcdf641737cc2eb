"""PeerReady tests. This file makes `tests` a regular package, so `from tests.helpers... import` wins over
the stray top-level `tests` package that the textstat wheel installs into site-packages."""
