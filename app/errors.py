"""Domain errors that carry their HTTP status. Services raise them; one handler renders them.

A message is English interface text (the gettext msgid), marked where it is written with `N_`
(or already translated with `gettext`), values by name: `NotFound(N_("No user %(email)s."),
params={"email": email})`. `message` is the text in the language current where the error was
raised (English unless a route chose the page's language); `translated()` writes it again in
the language current when it is shown, which the error pages and the routes use
(docs/interface-translations.md).
"""

from __future__ import annotations

from collections.abc import Mapping

from babel.support import LazyProxy

from app.i18n import gettext


class PeerReadyError(Exception):
    status_code = 400

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        params: Mapping[str, object] | None = None,
    ) -> None:
        self.msgid = message
        self.params = dict(params) if params else {}
        self.message = self.translated()
        super().__init__(self.message)
        if status_code is not None:
            self.status_code = status_code

    def translated(self) -> str:
        """The message in the current language (English when the catalog has no entry)."""
        text = gettext(self.msgid)
        return text % self.params if self.params else text

    @property
    def lazy_message(self) -> LazyProxy:
        """The message translated each time it is written: for a page's context, rendered in
        the page's language."""
        return LazyProxy(self.translated, enable_cache=False)


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
