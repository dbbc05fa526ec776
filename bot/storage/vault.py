"""Named secrets, sealed in the database: the saved login, the cross-signing keys."""

from __future__ import annotations

from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.models import Secret
from bot.storage.sealing import Sealer, unlock


def secret_context(name: str) -> str:
    """What a named secret is sealed as (bot.storage.sealing)."""
    return f"secret\0{name}"


class Vault:
    def __init__(self, db: Database, sealer: Sealer):
        self.db, self.sealer = db, sealer

    @classmethod
    def open(cls, db: Database, store_key: str | None) -> Vault:
        """The vault of `db`, unlocked with the store key (see bot.storage.sealing)."""
        return cls(db, db.call(lambda s: unlock(s, store_key, db.url)))

    def get(self, name: str) -> bytes | None:
        row = self.db.call(lambda s: s.get(Secret, name))
        return None if row is None else self.sealer.open(row.value, secret_context(name))

    def put(self, name: str, value: bytes) -> None:
        sealed = self.sealer.seal(value, secret_context(name))

        def write(s: Session) -> None:
            row = s.get(Secret, name)
            if row is None:
                s.add(Secret(name=name, value=sealed))
            else:
                row.value = sealed
        self.db.call(write)

    def delete(self, name: str) -> None:
        def remove(s: Session) -> None:
            row = s.get(Secret, name)
            if row is not None:
                s.delete(row)
        self.db.call(remove)
