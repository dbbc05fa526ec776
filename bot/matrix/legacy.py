"""Upgrade in place: the store folder an earlier version kept at `matrix.store_path`.

It held the saved login (credentials.json), matrix-nio's own SQLite store with the device's
Olm account and sessions, the trust files beside it, and the cross-signing keys
(cross_signing.json). At the first start with the database store, all of it is copied into
the database, read back with nio's own store class so that nothing is interpreted twice;
the folder is left as it was.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

from nio.store import DefaultStore

from bot.matrix.crosssigning import KEYS_FILE, Identity
from bot.matrix.session import Credentials, Secrets, load_credentials, save_credentials
from bot.matrix.store import DatabaseStore

log = logging.getLogger(__name__)
CREDENTIALS = "credentials.json"
PICKLE_KEY = "DEFAULT_KEY"  # matrix-nio's, which earlier versions used


def import_store_folder(folder: Path, user_id: str, secrets: Secrets,
                        store: type[DatabaseStore]) -> Credentials | None:
    """Import the folder's device into the database, unless the database has a login of
    its own already. The login is written last: an import cut short is done again."""
    path = folder / CREDENTIALS
    if not path.exists() or load_credentials(secrets, user_id) is not None:
        return None
    data = json.loads(path.read_text())
    if data.get("user_id") != user_id:
        log.warning("%s is the store of %s, not of %s: not imported", folder,
                    data.get("user_id"), user_id)
        return None
    creds = Credentials(data["user_id"], data["device_id"], data["access_token"],
                        data.get("homeserver", ""))
    old = DefaultStore(user_id, creds.device_id, str(folder), PICKLE_KEY)
    new = store(user_id, creds.device_id, "", PICKLE_KEY)
    counts = _copy(old, new)
    old.database.close()
    keys = folder / KEYS_FILE
    if keys.exists():
        identity = Identity.from_json(keys.read_text())
        if identity.user_id == user_id:
            identity.save(secrets)
            counts["cross-signing keys"] = 1
    save_credentials(secrets, creds)
    log.info("imported the store folder %s into the database (device %s: %s); the folder "
             "is no longer used and may be removed", folder, creds.device_id,
             ", ".join(f"{n} {what}" for what, n in counts.items()))
    return creds


def _copy(old: DefaultStore, new: DatabaseStore) -> dict[str, int]:
    account = old.load_account()
    if account is None:
        return {"Olm account": 0}
    new.save_account(account)
    sessions = old.load_sessions()
    for sender_key, of_device in sessions.items():
        for session in of_device:
            new.save_session(sender_key, session)
    megolm = list(old.load_inbound_group_sessions())
    new.save_inbound_group_sessions(megolm)
    devices = old.load_device_keys()  # with the trust kept in the files beside it
    new.save_devices_with_trust(list(devices))
    rooms = old.load_encrypted_rooms()
    new.save_encrypted_rooms(rooms)
    requests = old.load_outgoing_key_requests()
    for request in requests.values():
        new.add_outgoing_key_request(request)
    return {"Olm account": 1, "Olm sessions": sum(len(s) for s in sessions.values()),
            "Megolm sessions": len(megolm), "devices": len(list(devices)),
            "encrypted rooms": len(rooms), "key requests": len(requests)}
