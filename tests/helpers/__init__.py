"""Helpers shared by tests of every area (users, sign-in, CSRF tokens)."""
