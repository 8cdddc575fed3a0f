"""Structured logs: one JSON object per line on stderr (time, level, logger, message, extra fields)."""

from __future__ import annotations

import json
import logging
import re
import sys
import time

#: credentials that may appear in request lines (webhook ``?token=``) or headers are masked
_SECRET = re.compile(r"((?:token|password|secret)=)[^&\s\"']+|(Bearer\s+)[A-Za-z0-9._~+/=-]+|(Basic\s+)[A-Za-z0-9+/=]+", re.I)


#: any query parameter: its name is compared after percent-decoding (``?%74oken=`` is ``?token=`` to the server)
_PARAM = re.compile(r"([?&;])([^=&\s\"'?#]+)=([^&\s\"'#]*)")
_SECRET_NAMES = {"token", "password", "secret", "access_token", "api_key", "apikey"}


def _param(m: re.Match[str]) -> str:
    from urllib.parse import unquote_plus

    name = unquote_plus(m.group(2)).strip().lower()
    return f"{m.group(1)}{m.group(2)}=***" if name in _SECRET_NAMES else m.group(0)


def redact(text: str) -> str:
    """``text`` with tokens, passwords and Authorization values replaced by ``***``."""
    text = _PARAM.sub(_param, text)
    return _SECRET.sub(lambda m: (m.group(1) or m.group(2) or m.group(3)) + "***", text)


_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """Format a record as JSON, with any ``extra=`` fields."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, object] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = redact(value) if isinstance(value, str) else value if isinstance(value, (int, float, bool, type(None))) else redact(str(value))
        if record.exc_info:
            out["exception"] = redact(self.formatException(record.exc_info))
        return json.dumps(out, ensure_ascii=False)


def configure(level: str = "info") -> None:
    """Send every log record (ours, uvicorn's) to stderr as JSON."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
