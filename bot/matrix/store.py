"""matrix-nio's end-to-end encryption store, kept in the bot's database instead of a file.

nio makes its store itself, from a class and (user id, device id, store path, pickle key,
store name); `store_class(records)` binds the records (bot.storage.e2ee, handed in by the
wiring) to a subclass made for that. nio calls the store synchronously on the event loop:
each call is one short transaction. The sync position is not nio's to keep (the bot writes
its own after each handled batch), so the sync token methods do nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any, ClassVar, Protocol

from nio.crypto import (
    DeviceStore,
    GroupSessionStore,
    InboundGroupSession,
    OlmAccount,
    OlmDevice,
    OutgoingKeyRequest,
    Session,
    SessionStore,
    TrustState,
)
from nio.store import MatrixStore


class DeviceRecords(Protocol):
    """One device's records (bot.storage.e2ee.DeviceRecords): plain values, sealed there."""

    def load_account(self) -> tuple[bytes, bool] | None: ...
    def save_account(self, pickle: bytes, shared: bool) -> None: ...
    def load_olm_sessions(self) -> list[Any]: ...
    def save_olm_session(self, record: Any) -> None: ...
    def load_megolm_sessions(self) -> list[Any]: ...
    def save_megolm_sessions(self, records: Iterable[Any]) -> None: ...
    def load_devices(self) -> list[Any]: ...
    def save_devices(self, devices: Iterable[Any], *, trust: bool = False) -> None: ...
    def load_rooms(self) -> set[str]: ...
    def save_rooms(self, rooms: Iterable[str]) -> None: ...
    def delete_room(self, room_id: str) -> None: ...
    def load_key_requests(self) -> list[Any]: ...
    def add_key_request(self, request: Any) -> None: ...
    def remove_key_request(self, request_id: str) -> None: ...


class Records(Protocol):
    """The records of every device, and the record types (bot.storage.e2ee)."""

    olm: Any
    megolm: Any
    device_record: Any
    key_request: Any

    def device(self, user_id: str, device_id: str) -> DeviceRecords: ...


class DatabaseStore(MatrixStore):
    records: ClassVar[Records]

    def __init__(self, user_id: str, device_id: str, store_path: str = "",
                 pickle_key: str = "", database_name: str = ""):
        # MatrixStore's own __init__ would open an SQLite file: not called on purpose
        self.user_id, self.device_id = user_id, device_id
        self.store_path, self.pickle_key, self.database_name = (store_path, pickle_key,
                                                                database_name)
        self.db = self.records.device(user_id, device_id)

    def __repr__(self) -> str:
        return f"DatabaseStore({self.user_id}, {self.device_id})"

    # ---- account and sessions -------------------------------------------------------
    def load_account(self) -> OlmAccount | None:
        found = self.db.load_account()
        if found is None:
            return None
        account = OlmAccount.from_pickle(found[0], self.pickle_key, found[1])
        if account.upgrade_pickle:  # a libolm pickle (imported): keep vodozemac's
            account.upgrade_pickle = False
            self.save_account(account)
        return account

    def save_account(self, account: OlmAccount) -> None:
        self.db.save_account(account.pickle(self.pickle_key), account.shared)

    def load_sessions(self) -> SessionStore:
        store = SessionStore()
        for r in self.db.load_olm_sessions():
            session = Session.from_pickle(r.pickle, datetime.fromisoformat(r.created),
                                          self.pickle_key)
            store.add(r.sender_key, session)
            if session.upgrade_pickle:
                session.upgrade_pickle = False
                self.save_session(r.sender_key, session)
        return store

    def save_session(self, curve_key: str, session: Session) -> None:
        self.db.save_olm_session(self.records.olm(
            session.id, curve_key, session.creation_time.isoformat(),
            session.pickle(self.pickle_key)))

    def load_inbound_group_sessions(self) -> GroupSessionStore:
        store = GroupSessionStore()
        upgraded = []
        for r in self.db.load_megolm_sessions():
            session = InboundGroupSession.from_pickle(
                r.pickle, r.signing_key, r.sender_key, r.room_id, self.pickle_key,
                r.forwarded_chain)
            store.add(session)
            if session.upgrade_pickle:
                session.upgrade_pickle = False
                upgraded.append(session)
        self.save_inbound_group_sessions(upgraded)
        return store

    def save_inbound_group_session(self, session: InboundGroupSession) -> None:
        self.save_inbound_group_sessions([session])

    def save_inbound_group_sessions(self, sessions: list[InboundGroupSession]) -> None:
        """Several in one transaction (an imported store's)."""
        if sessions:
            self.db.save_megolm_sessions([self.records.megolm(
                s.id, s.room_id, s.sender_key, s.ed25519, list(s.forwarding_chain or []),
                s.pickle(self.pickle_key)) for s in sessions])

    # ---- devices and trust ----------------------------------------------------------
    def load_device_keys(self) -> DeviceStore:
        store = DeviceStore()
        for r in self.db.load_devices():
            store.add(OlmDevice(r.user_id, r.device_id, dict(r.keys),
                                display_name=r.display_name, deleted=r.deleted,
                                trust_state=TrustState(r.trust)))
        return store

    def save_device_keys(self, device_keys: dict[str, dict[str, OlmDevice]]) -> None:
        self.db.save_devices([self._record(d) for devices in device_keys.values()
                              for d in devices.values()])

    def _record(self, device: OlmDevice) -> Any:
        return self.records.device_record(device.user_id, device.id,
                                          device.display_name or "", device.deleted,
                                          dict(device.keys), device.trust_state.value)

    def save_devices_with_trust(self, devices: list[OlmDevice]) -> None:
        """Devices' keys and the trust they have (an imported store's)."""
        self.db.save_devices([self._record(d) for d in devices], trust=True)

    def _set_trust(self, devices: list[OlmDevice], state: TrustState) -> None:
        for device in devices:
            device.trust_state = state
        self.db.save_devices([self._record(d) for d in devices], trust=True)

    def _change(self, device: OlmDevice, state: TrustState, *, only_from=None) -> bool:
        """Give `device` the trust `state`; False if nothing changed."""
        if device.trust_state == state or (only_from and device.trust_state != only_from):
            return False
        self._set_trust([device], state)
        return True

    def verify_device(self, device: OlmDevice) -> bool:
        return self._change(device, TrustState.verified)

    def unverify_device(self, device: OlmDevice) -> bool:
        return self._change(device, TrustState.unset, only_from=TrustState.verified)

    def blacklist_device(self, device: OlmDevice) -> bool:
        return self._change(device, TrustState.blacklisted)

    def unblacklist_device(self, device: OlmDevice) -> bool:
        return self._change(device, TrustState.unset, only_from=TrustState.blacklisted)

    def ignore_device(self, device: OlmDevice) -> bool:
        return self._change(device, TrustState.ignored)

    def unignore_device(self, device: OlmDevice) -> bool:
        return self._change(device, TrustState.unset, only_from=TrustState.ignored)

    def ignore_devices(self, devices: list[OlmDevice]) -> None:
        self._set_trust(list(devices), TrustState.ignored)

    # the device objects carry the trust loaded from (and written to) the database
    def is_device_verified(self, device: OlmDevice) -> bool:
        return device.trust_state == TrustState.verified

    def is_device_blacklisted(self, device: OlmDevice) -> bool:
        return device.trust_state == TrustState.blacklisted

    def is_device_ignored(self, device: OlmDevice) -> bool:
        return device.trust_state == TrustState.ignored

    # ---- rooms, key requests, sync token --------------------------------------------
    def load_encrypted_rooms(self) -> set[str]:
        return self.db.load_rooms()

    def save_encrypted_rooms(self, rooms: Iterable[str]) -> None:
        self.db.save_rooms(rooms)

    def delete_encrypted_room(self, room: str) -> None:
        self.db.delete_room(room)

    def load_outgoing_key_requests(self) -> dict[str, OutgoingKeyRequest]:
        return {r.request_id: OutgoingKeyRequest(r.request_id, r.session_id, r.room_id,
                                                 r.algorithm)
                for r in self.db.load_key_requests()}

    def add_outgoing_key_request(self, key_request: OutgoingKeyRequest) -> None:
        self.db.add_key_request(self.records.key_request(
            key_request.request_id, key_request.session_id, key_request.room_id,
            key_request.algorithm))

    def remove_outgoing_key_request(self, key_request: OutgoingKeyRequest) -> None:
        self.db.remove_key_request(key_request.request_id)

    def save_sync_token(self, token: str) -> None:
        pass  # the bot keeps its own sync position, written after a batch is handled

    def load_sync_token(self) -> str | None:
        return None


def store_class(records: Records) -> type[DatabaseStore]:
    """A store class for `AsyncClientConfig(store=…)`, bound to these records."""
    return type("BoundDatabaseStore", (DatabaseStore,), {"records": records})
