"""Users, roles and API tokens: bcrypt password hashes, SHA-256 token hashes, role ranks."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import select
from sqlalchemy.orm import Session

from hullscan.server.db.models import ApiToken, User

if TYPE_CHECKING:
    from hullscan.server.logins import LoginGuard

#: roles from least to most privileged
ROLES = ("viewer", "operator", "admin")
TOKEN_PREFIX = "hs_"


def hash_password(password: str) -> str:
    """A bcrypt hash of ``password`` (bcrypt only reads the first 72 bytes; longer passwords are refused)."""
    import bcrypt

    raw = password.encode()
    if len(raw) > 72:
        raise ValueError("password longer than 72 bytes")
    return bcrypt.hashpw(raw, bcrypt.gensalt()).decode()


def check_password(password: str, hashed: str) -> bool:
    """True when ``password`` matches the bcrypt ``hashed``."""
    import bcrypt

    raw = password.encode()
    if len(raw) > 72:
        return False
    try:
        return bcrypt.checkpw(raw, hashed.encode())
    except ValueError:
        return False


def role_allows(role: str, needed: str) -> bool:
    """True when ``role`` is at least ``needed``."""
    return role in ROLES and ROLES.index(role) >= ROLES.index(needed)


def token_hash(token: str) -> str:
    """The stored form of an API token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_user(session: Session, username: str, password: str, role: str) -> User:
    """Add a user; ValueError for an unknown role, a taken name or an empty password."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r} (known: {', '.join(ROLES)})")
    if not username.strip() or not password:
        raise ValueError("username and password must not be empty")
    if session.scalar(select(User).where(User.username == username)) is not None:
        raise ValueError(f"user {username!r} already exists")
    user = User(username=username, password_hash=hash_password(password), role=role)
    session.add(user)
    session.flush()
    return user


def create_token(session: Session, user: User, name: str = "", expires_at: datetime | None = None) -> str:
    """Issue a new API token for ``user`` (valid until ``expires_at`` when given); the plain token is returned once
    and never stored."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, name=name, token_hash=token_hash(token), prefix=token[:8], expires_at=expires_at))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    """The enabled user owning ``token``, or None."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None:
        return None
    from hullscan.server.db.models import utcnow
    from hullscan.server.timeutil import aware

    if row.expires_at is not None and aware(row.expires_at) <= utcnow():
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and not user.disabled else None


def user_for_password(session: Session, username: str, password: str) -> User | None:
    """The enabled user with these credentials, or None. An unknown or disabled user costs one bcrypt check too
    (against a dummy hash), so the time taken does not tell whether the name exists."""
    from hullscan.server.logins import dummy_hash

    user = session.scalar(select(User).where(User.username == username))
    usable = user is not None and not user.disabled
    ok = check_password(password, user.password_hash if usable and user is not None else dummy_hash())
    return user if usable and ok else None


def login(session: Session, guard: LoginGuard, username: str, password: str, address: str) -> User | None:
    """:func:`user_for_password` behind ``guard``: LoginThrottled (before any hashing) when the account or the
    address failed too often, or no password-check slot frees up in time; failures and successes counted."""
    guard.check(username, address)
    with guard.slot():
        # again, holding the slot: the guesses that queued for it all passed the first check before any failed
        guard.check(username, address)
        user = user_for_password(session, username, password)
        if user is None:
            guard.failed(username, address)
        else:
            guard.succeeded(username)
    return user


class LastAdmin(ValueError):
    """The change would leave no enabled admin."""


def _other_enabled_admins(session: Session, user: User) -> int:
    from sqlalchemy import func

    return int(session.scalar(select(func.count()).select_from(User).where(
        User.role == "admin", User.disabled.is_(False), User.id != user.id)) or 0)


def update_user(session: Session, user: User, role: str | None = None, disabled: bool | None = None) -> User:
    """Change a user's role or disable/enable them (a disabled user's tokens and password stop working at once).
    LastAdmin when no enabled admin would be left."""
    new_role = role if role is not None else user.role
    new_disabled = disabled if disabled is not None else user.disabled
    if new_role not in ROLES:
        raise ValueError(f"unknown role {new_role!r} (known: {', '.join(ROLES)})")
    if user.role == "admin" and not user.disabled and (new_role != "admin" or new_disabled) \
            and _other_enabled_admins(session, user) == 0:
        raise LastAdmin(f"{user.username!r} is the last enabled admin")
    user.role, user.disabled = new_role, new_disabled
    return user


def delete_user(session: Session, user: User) -> None:
    """Delete a user and their tokens. LastAdmin for the last enabled admin."""
    if user.role == "admin" and not user.disabled and _other_enabled_admins(session, user) == 0:
        raise LastAdmin(f"{user.username!r} is the last enabled admin")
    for token in session.scalars(select(ApiToken).where(ApiToken.user_id == user.id)):
        session.delete(token)
    session.delete(user)


def change_password(session: Session, user: User, new_password: str) -> None:
    """Set a new password (the caller checked the current one)."""
    user.password_hash = hash_password(new_password)
