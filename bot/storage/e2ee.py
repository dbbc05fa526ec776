"""The end-to-end encryption store's records, by device: what matrix-nio keeps, in our database.

Plain values in and out (pickles as bytes, ids as strings); the nio-facing store
(bot.matrix.store) turns them into Olm objects. matrix-nio calls its store synchronously on
the event loop, so each function here is one short transaction on the calling thread; with
SQLite it waits for the database thread's write to finish (BEGIN IMMEDIATE, busy timeout)
rather than failing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from bot.storage.db import Database
from bot.storage.e2ee_models import (
    E2EEAccount,
    E2EEDevice,
    E2EEKeyRequest,
    E2EEMegolmSession,
    E2EEOlmSession,
    E2EERoom,
)
from bot.storage.sealing import Sealer


class OlmRecord(NamedTuple):
    session_id: str
    sender_key: str
    created: str
    pickle: bytes


class MegolmRecord(NamedTuple):
    session_id: str
    room_id: str
    sender_key: str
    signing_key: str
    forwarded_chain: list[str]
    pickle: bytes


class DeviceRecord(NamedTuple):
    user_id: str
    device_id: str
    display_name: str
    deleted: bool
    keys: dict[str, str]
    trust: int = 0


class KeyRequestRecord(NamedTuple):
    request_id: str
    session_id: str
    room_id: str
    algorithm: str


def upsert(s: Session, model: Any, rows: list[dict], keys: tuple[str, ...],
           keep: tuple[str, ...] = ()) -> None:
    """Insert rows, or update the columns of the rows already there (except `keep`)."""
    if not rows:
        return
    insert = sqlite_insert if s.get_bind().dialect.name == "sqlite" else pg_insert
    stmt = insert(model.__table__)
    changed = {c: stmt.excluded[c] for c in rows[0] if c not in keys and c not in keep}
    stmt = (stmt.on_conflict_do_update(index_elements=list(keys), set_=changed) if changed
            else stmt.on_conflict_do_nothing(index_elements=list(keys)))
    s.execute(stmt, rows)


def device_context(kind: str, user_id: str, device_id: str, name: str = "") -> str:
    """What a device's secret is sealed as: its kind ("account", "olm", "megolm"), the
    device, and the session's id (bot.storage.sealing)."""
    return f"{kind}\0{user_id}\0{device_id}\0{name}"


class E2EERecords:
    """Every device's records; `device()` gives one device's."""

    olm, megolm, device_record, key_request = (OlmRecord, MegolmRecord, DeviceRecord,
                                               KeyRequestRecord)

    def __init__(self, db: Database, sealer: Sealer):
        self.db, self.sealer = db, sealer

    def device(self, user_id: str, device_id: str) -> DeviceRecords:
        return DeviceRecords(self.db, self.sealer, user_id, device_id)


class DeviceRecords:
    def __init__(self, db: Database, sealer: Sealer, user_id: str, device_id: str):
        self.db, self.sealer = db, sealer
        self.user_id, self.device_id = user_id, device_id
        self._account: int | None = None

    def __repr__(self) -> str:
        return f"DeviceRecords({self.user_id}, {self.device_id})"

    def _call(self, fn):
        # called on the event loop: no waiting out an outage here; DatabaseUnavailable
        # makes the sync loop read the batch again later
        return self.db.call(fn, retries=0)

    # ---- sealing: each secret bound to what it is -----------------------------------
    def _context(self, kind: str, name: str = "") -> str:
        return device_context(kind, self.user_id, self.device_id, name)

    def _seal(self, data: bytes, kind: str, name: str = "") -> bytes:
        return self.sealer.seal(data, self._context(kind, name))

    def _open(self, data: bytes, kind: str, name: str = "") -> bytes:
        return self.sealer.open(data, self._context(kind, name))

    def _account_id(self, s: Session) -> int | None:
        if self._account is None:
            self._account = s.scalar(select(E2EEAccount.id).where(
                E2EEAccount.user_id == self.user_id, E2EEAccount.device_id == self.device_id))
        return self._account

    def _required(self, s: Session) -> int:
        account = self._account_id(s)
        if account is None:
            raise LookupError(f"no Olm account for {self.user_id} {self.device_id}")
        return account

    # ---- the Olm account ------------------------------------------------------------
    def load_account(self) -> tuple[bytes, bool] | None:
        """The account's pickle and whether its keys are published, or None."""
        def read(s: Session):
            return s.execute(select(E2EEAccount.pickle, E2EEAccount.shared).where(
                E2EEAccount.user_id == self.user_id,
                E2EEAccount.device_id == self.device_id)).first()
        row = self._call(read)
        return None if row is None else (self._open(row.pickle, "account"), row.shared)

    def save_account(self, pickle: bytes, shared: bool) -> None:
        sealed = self._seal(pickle, "account")
        self._call(lambda s: upsert(s, E2EEAccount, [{
            "user_id": self.user_id, "device_id": self.device_id, "shared": shared,
            "pickle": sealed}], ("user_id", "device_id")))

    # ---- Olm sessions (one per other device we exchanged to-device messages with) -----
    def load_olm_sessions(self) -> list[OlmRecord]:
        rows = self._call(lambda s: s.execute(select(
            E2EEOlmSession.session_id, E2EEOlmSession.sender_key, E2EEOlmSession.created,
            E2EEOlmSession.pickle).where(E2EEOlmSession.account_id == self._account_id(s)))
            .all())
        return [OlmRecord(r.session_id, r.sender_key, r.created,
                          self._open(r.pickle, "olm", r.session_id)) for r in rows]

    def save_olm_session(self, record: OlmRecord) -> None:
        sealed = self._seal(record.pickle, "olm", record.session_id)
        self._call(lambda s: upsert(s, E2EEOlmSession, [{
            "account_id": self._required(s), "session_id": record.session_id,
            "sender_key": record.sender_key, "created": record.created, "pickle": sealed}],
            ("account_id", "session_id")))

    # ---- Megolm inbound sessions (the keys to other people's room messages) ----------
    def load_megolm_sessions(self) -> list[MegolmRecord]:
        rows = self._call(lambda s: s.execute(select(E2EEMegolmSession).where(
            E2EEMegolmSession.account_id == self._account_id(s))).scalars().all())
        return [MegolmRecord(r.session_id, r.room_id, r.sender_key, r.signing_key,
                             list(r.forwarded_chain or []),
                             self._open(r.pickle, "megolm", r.session_id)) for r in rows]

    def save_megolm_sessions(self, records: Iterable[MegolmRecord]) -> None:
        rows = [{"session_id": r.session_id, "room_id": r.room_id,
                 "sender_key": r.sender_key, "signing_key": r.signing_key,
                 "forwarded_chain": list(r.forwarded_chain),
                 "pickle": self._seal(r.pickle, "megolm", r.session_id)} for r in records]

        def write(s: Session) -> None:
            account = self._required(s)
            upsert(s, E2EEMegolmSession, [{**row, "account_id": account} for row in rows],
                   ("account_id", "session_id"))
        self._call(write)

    # ---- other devices' keys and the trust given to them ----------------------------
    def load_devices(self) -> list[DeviceRecord]:
        rows = self._call(lambda s: s.execute(select(E2EEDevice).where(
            E2EEDevice.account_id == self._account_id(s))).scalars().all())
        return [DeviceRecord(r.user_id, r.device_id, r.display_name or "", r.deleted,
                             dict(r.keys or {}), r.trust) for r in rows]

    def save_devices(self, devices: Iterable[DeviceRecord], *, trust: bool = False) -> None:
        """Store devices' keys; their trust too if `trust`, else the stored trust stays."""
        rows = [{"user_id": d.user_id, "device_id": d.device_id,
                 "display_name": d.display_name or "", "deleted": d.deleted,
                 "keys": dict(d.keys), "trust": d.trust} for d in devices]

        def write(s: Session) -> None:
            account = self._required(s)
            upsert(s, E2EEDevice, [{**row, "account_id": account} for row in rows],
                   ("account_id", "user_id", "device_id"), keep=() if trust else ("trust",))
        self._call(write)

    # ---- encrypted rooms ------------------------------------------------------------
    def load_rooms(self) -> set[str]:
        return set(self._call(lambda s: s.scalars(select(E2EERoom.room_id).where(
            E2EERoom.account_id == self._account_id(s))).all()))

    def save_rooms(self, rooms: Iterable[str]) -> None:
        rooms = list(rooms)
        self._call(lambda s: upsert(s, E2EERoom, [
            {"account_id": self._required(s), "room_id": r} for r in rooms],
            ("account_id", "room_id")))

    def delete_room(self, room_id: str) -> None:
        self._call(lambda s: s.execute(delete(E2EERoom).where(
            E2EERoom.account_id == self._account_id(s), E2EERoom.room_id == room_id)))

    # ---- outgoing room key requests -------------------------------------------------
    def load_key_requests(self) -> list[KeyRequestRecord]:
        rows = self._call(lambda s: s.execute(select(
            E2EEKeyRequest.request_id, E2EEKeyRequest.session_id, E2EEKeyRequest.room_id,
            E2EEKeyRequest.algorithm).where(E2EEKeyRequest.account_id == self._account_id(s)))
            .all())
        return [KeyRequestRecord(*r) for r in rows]

    def add_key_request(self, request: KeyRequestRecord) -> None:
        self._call(lambda s: upsert(s, E2EEKeyRequest, [{
            "account_id": self._required(s), **request._asdict()}],
            ("account_id", "request_id"), keep=("session_id", "room_id", "algorithm")))

    def remove_key_request(self, request_id: str) -> None:
        self._call(lambda s: s.execute(delete(E2EEKeyRequest).where(
            E2EEKeyRequest.account_id == self._account_id(s),
            E2EEKeyRequest.request_id == request_id)))
