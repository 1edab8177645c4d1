"""Ask ids the server can recognise as its own: a random nonce and its HMAC under a server key.

`POST /feedback` accepts only these, so no client can invent rows for answers that were never given; every
worker of a deployment checks them alike, because the key is RAG_FEEDBACK_SECRET or, when that is empty, a
random key kept beside the feedback database (`<feedback_db>.key`, created once, mode 0600).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
from pathlib import Path

from rag import Settings

log = logging.getLogger("app")
NONCE_HEX = 24
MAC_HEX = 24  # 96 bits of HMAC-SHA256: forging one is out of reach; the id stays 48 characters
SHAPE = re.compile(rf"[0-9a-f]{{{NONCE_HEX + MAC_HEX}}}")


class AskIds:
    """Issues ask ids and recognises them."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    @classmethod
    def for_settings(cls, settings: Settings) -> AskIds:
        if settings.feedback_secret:
            return cls(settings.feedback_secret.encode("utf-8"))
        try:
            return cls(stored_key(Path(f"{settings.feedback_db}.key")))
        except OSError as exc:
            # Feedback still works where the ask was answered; other workers will not recognise its ids.
            log.error(
                "cannot keep the ask-id key beside %s (%s); using a key of this process", settings.feedback_db, exc
            )
            return cls(secrets.token_bytes(32))

    def _mac(self, nonce: str) -> str:
        return hmac.new(self._key, nonce.encode("ascii"), hashlib.sha256).hexdigest()[:MAC_HEX]

    def issue(self) -> str:
        nonce = secrets.token_hex(NONCE_HEX // 2)
        return nonce + self._mac(nonce)

    def issued(self, ask_id: str) -> bool:
        """True when this server (any worker sharing its key) issued `ask_id`."""
        if not SHAPE.fullmatch(ask_id):
            return False
        return hmac.compare_digest(ask_id[NONCE_HEX:], self._mac(ask_id[:NONCE_HEX]))


def stored_key(path: Path) -> bytes:
    """The key in `path`, created atomically on first use (two workers starting together get the same one)."""
    try:
        return bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(secrets.token_hex(32) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    try:
        os.link(tmp, path)  # fails if another worker made it first: theirs is the key
    except FileExistsError:
        pass
    finally:
        tmp.unlink(missing_ok=True)
    return bytes.fromhex(path.read_text(encoding="ascii").strip())
