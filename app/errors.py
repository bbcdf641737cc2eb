"""Domain errors that carry their HTTP status. Services raise them; one handler renders them."""

from __future__ import annotations


class PeerReadyError(Exception):
    status_code = 400

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        if status_code is not None:
            self.status_code = status_code


class BadInput(PeerReadyError):
    status_code = 400


class NotAuthenticated(PeerReadyError):
    status_code = 401


class Forbidden(PeerReadyError):
    status_code = 403


class PasswordChangeRequired(Forbidden):
    """Signed in with a temporary password: pages send the user to "Change your password"."""


class NotFound(PeerReadyError):
    status_code = 404


class Conflict(PeerReadyError):
    status_code = 409


class Gone(PeerReadyError):
    status_code = 410


class TooLarge(PeerReadyError):
    status_code = 413


class TooManyRequests(PeerReadyError):
    status_code = 429
