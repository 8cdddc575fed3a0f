"""First run: while the store has no user, the console's first page creates the first administrator.

That page accepts requests from the loopback interface (the machine the server runs on), or from elsewhere
with the one-time setup token the server prints in its log at start (only its SHA-256 is stored, in the
``meta`` table, so every worker process checks the same token). The token is void once an administrator
exists.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import secrets

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hullscan.server.db.models import Meta, User
from hullscan.server.runtime import Runtime

log = logging.getLogger("hullscan.server.setup")
META_KEY = "console_setup_token_sha256"


def needs_setup(s: Session) -> bool:
    """True while no user exists."""
    return not (s.scalar(select(func.count()).select_from(User)) or 0)


def announce_setup(rt: Runtime, host: str, port: int) -> str | None:
    """At start: with no user yet, make a one-time setup token, store its hash and log where to go. Returns it."""
    with rt.session() as s:
        if not needs_setup(s):
            return None
        token = secrets.token_urlsafe(18)
        row = s.get(Meta, META_KEY)
        digest = hashlib.sha256(token.encode()).hexdigest()
        if row is None:
            s.add(Meta(key=META_KEY, value=digest))
        else:
            row.value = digest
    shown = "127.0.0.1" if host in ("0.0.0.0", "::", "") else host
    log.warning("no administrator yet: open http://%s:%d/ui/setup to create the first one (from this machine, or from "
                "another with the one-time setup token %s)", shown, port, token)
    return token


def is_loopback(address: str | None) -> bool:
    """True for 127.0.0.0/8 and ::1."""
    try:
        return address is not None and ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def token_ok(s: Session, token: str) -> bool:
    """True when ``token`` is the setup token printed at start."""
    row = s.get(Meta, META_KEY)
    if row is None or not row.value or not token:
        return False
    return hmac.compare_digest(row.value, hashlib.sha256(token.encode()).hexdigest())


def finish_setup(s: Session) -> None:
    """Void the setup token once the first administrator exists."""
    row = s.get(Meta, META_KEY)
    if row is not None:
        s.delete(row)
