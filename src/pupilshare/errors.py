"""One error hierarchy: what a user should see, with an exit code and an HTTP status.

Anything that is not a ``PupilshareError`` is a bug and shows a traceback.
"""

from __future__ import annotations


class PupilshareError(Exception):
    """An error meant for the person who ran the command."""

    exit_code = 1
    status = 400

    def __init__(self, message: str, errors: list[str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or []

    def as_json(self) -> dict:
        """The one error shape for machine-readable output (``ok``, ``error``,
        ``errors``, ``status``)."""
        return {
            "ok": False,
            "error": self.message,
            "errors": self.errors,
            "status": self.status,
        }


class InvalidInput(PupilshareError):
    """Input rejected: a file, an argument or a request body."""

    exit_code = 2
    status = 400


class Denied(PupilshareError):
    """The person asking may not do this (denied by default)."""

    exit_code = 3
    status = 403


class SignInFailed(Denied):
    """Who is asking could not be proved: wrong or missing credentials, a locked
    account, too many attempts, a revoked or expired token."""

    status = 401


class NotFound(PupilshareError):
    exit_code = 4
    status = 404


class Conflict(PupilshareError):
    """The request clashes with the state of the records (a wrong workflow step)."""

    exit_code = 5
    status = 409


class SampleOnly(Conflict):
    """An agreement whose data leaves only as a drawn sample (survey contacts), never
    as a whole release: the caller is told which command draws it."""


class Blocked(PupilshareError):
    """A release was blocked by the output check; nothing was delivered."""

    exit_code = 6
    status = 422


class Busy(Conflict):
    """The store is held by another process for longer than we may wait (a
    conflict with the state of the home; over the web, try again later)."""

    status = 503
