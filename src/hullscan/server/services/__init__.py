"""Service functions shared by the REST API (``server/api``) and the console (``server/web``).

They take a store session (and the runtime where they need secrets or the clock), raise :class:`ServiceError`
with one of the API's error codes, and know nothing of HTTP: the API turns a ServiceError into
``{"code", "message"}`` with its status, the console shows the message on the page.
"""

from __future__ import annotations


class ServiceError(Exception):
    """A refused request: ``status`` (HTTP-like), ``code`` (stable, e.g. ``FailedToVerifyUsernameOrPwd``), message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
