"""Secrets at rest: Fernet encryption with a key from ``HULLSCAN_SECRET_KEY`` or a 0600 key file in the data dir."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from hullscan.errors import InputError

KEY_ENV = "HULLSCAN_SECRET_KEY"
KEY_FILE = "secret.key"


class SecretKeyError(InputError):
    """The secret key is malformed, or a stored secret was encrypted with another key."""


class SecretBox:
    """Encrypts and decrypts small secrets (registry passwords, tokens) with one Fernet key."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet

        self._fernet = Fernet(key)
        self._key = key

    def derive(self, purpose: str) -> bytes:
        """A key for ``purpose`` (console session signing, CSRF tokens) derived from this box's key."""
        import hashlib
        import hmac

        return hmac.new(self._key, purpose.encode(), hashlib.sha256).digest()

    @classmethod
    def load(cls, data_dir: Path) -> SecretBox:
        """The key from the environment, else from ``<data_dir>/secret.key`` (created with mode 0600 on first start)."""
        env = os.environ.get(KEY_ENV)
        if env:
            return cls._checked(env.encode(), f"${KEY_ENV}")
        path = data_dir / KEY_FILE
        if not path.exists():
            from cryptography.fernet import Fernet

            data_dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(Fernet.generate_key())
        return cls._checked(path.read_bytes().strip(), str(path))

    @classmethod
    def _checked(cls, key: bytes, source: str) -> SecretBox:
        try:
            return cls(key)
        except ValueError:
            raise SecretKeyError(f"{source} is not a secret key (32 url-safe base64-encoded bytes, "
                                 "as made by cryptography's Fernet.generate_key())") from None

    def encrypt(self, text: str) -> str:
        """The Fernet token of ``text`` ("" stays "")."""
        return self._fernet.encrypt(text.encode()).decode() if text else ""

    def decrypt(self, token: str) -> str:
        """The plain text of a token made by :meth:`encrypt`."""
        from cryptography.fernet import InvalidToken

        if not token:
            return ""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise SecretKeyError(f"a stored credential can't be decrypted with the current key (${KEY_ENV} or the "
                                 f"data dir's {KEY_FILE} changed?): enter the password or token again") from None

    def encrypt_json(self, value: Any) -> str:
        """Encrypt a JSON-serialisable value."""
        return self.encrypt(json.dumps(value, sort_keys=True)) if value else ""

    def decrypt_json(self, token: str) -> Any:
        """Decrypt a value made by :meth:`encrypt_json` (None for "")."""
        return json.loads(self.decrypt(token)) if token else None
