"""`coordbot rotate-store-key`: the database's secrets sealed under a new store key.

The bot must be stopped: the command takes the instance lock as an instance would (a
running bot holds the old key in memory and would go on sealing with it), then re-seals
everything in one transaction (bot.storage.rekey). Neither key is ever printed or logged.

The new key comes from standard input, or with `--generate` is made here; a generated key
can only go where nobody needs to read it, so `--generate` is for the key file that the bot
keeps beside an SQLite database when no key is configured. With that file, the new key (made
or given) replaces it. The window between the commit and the file: the new key is written
beside the file first, as `<database>.store-key.new`, inside the transaction; only once the
commit is on disk does it replace the key file. A failure before the commit removes it,
changing nothing; a crash after the commit leaves it for the bot, which at its next start
finds the old key refused and the new one opening the database, and moves it into place
(bot.storage.sealing.unlock).
"""

from __future__ import annotations

import os
import sys
from getpass import getpass
from pathlib import Path

from bot.config import ENV_STORE_KEY, MIN_STORE_KEY, Config
from bot.leader import AlreadyRunning, Leadership
from bot.storage.db import Database
from bot.storage.rekey import OutcomeUnknown, Resealed, make_durable, rotate
from bot.storage.sealing import (
    SecretUnreadable,
    StoreKeyProblem,
    generate_store_key,
    key_file,
    pending_key_file,
    replace_private,
    write_private,
)


def rotate_store_key(config: Config, *, generate: bool) -> int:
    url = config.storage.database
    kept = None if config.matrix.store_key else key_file(url)  # the key file is the key
    if generate and kept is None:
        return _refused("--generate makes a key that nobody sees, so it is only for the key "
                        "file kept beside an SQLite database when no key is configured; "
                        f"with matrix.store_key or {ENV_STORE_KEY}, give the new key on "
                        "standard input")
    try:
        new_key = generate_store_key() if generate else _read_new_key()
    except ValueError as err:
        return _refused(str(err))
    leadership = Leadership(url)
    try:
        leadership.take_now()
    except AlreadyRunning as err:
        return _refused(f"{err}. Stop the bot first")
    db = Database(url)
    try:  # the lock held to the end: no bot starts before the key file is in place
        return _rotate(config, db, leadership.lease, new_key, kept)
    finally:
        db.close()
        leadership.release()


def _rotate(config: Config, db: Database, lease, new_key: str, kept: Path | None) -> int:
    pending = pending_key_file(db.url) if kept else None
    written = False

    def keep_new_key() -> None:
        nonlocal written
        if pending is not None:
            # one left over is stale by now: the key file opened the database, or
            # unlock() moved it into place
            written = True
            write_private(pending, new_key + "\n")

    try:
        db.migrate(config.bot.require_cross_signed_devices)
        done = rotate(db, config.matrix.store_key, new_key, lease=lease,
                      before_commit=keep_new_key)
    except OutcomeUnknown as err:
        print(f"{err}: if the bot then refuses the old store key, the new one is in force"
              + (f" (kept in {pending}, where the bot finds it)" if pending else ""),
              file=sys.stderr)
        return 1
    except BaseException as err:
        if written:  # only once this run writes it: before, a file there may be the key
            pending.unlink(missing_ok=True)
        if isinstance(err, SecretUnreadable):
            where = str(err).replace("\0", " ").strip()
            return _refused(f"a sealed value ({where}) does not open with the current store "
                            "key: the database is damaged")
        if isinstance(err, StoreKeyProblem | ValueError):
            return _refused(str(err))
        raise
    durable = make_durable(db)
    if pending is not None and not durable:
        # the old key file stays: should a power cut undo the commit, it still opens the
        # database; else the bot takes the new key from beside it at its next start
        print(f"The new store key waits in {pending}: another process was reading the "
              "database, so the change is not yet safe against a power cut. The bot moves "
              "the key into place at its next start; keep both files until then.",
              file=sys.stderr)
    elif pending is not None:
        replace_private(pending, kept)
    print(_report(config, done, kept, moved=durable))
    return 0


def _read_new_key() -> str:
    """The new store key, from standard input; raises ValueError saying what is wrong."""
    # never an argument: it would stay in the shell's history and the process list
    if sys.stdin.isatty():
        key = getpass("New store key: ")
        if getpass("The new store key again: ") != key:
            raise ValueError("the two new store keys typed differ")
    else:
        key = sys.stdin.readline().rstrip("\r\n")
    if not key:
        raise ValueError("no new store key on standard input")
    if key != key.strip():
        raise ValueError("the new store key begins or ends with a space")
    if len(key) < MIN_STORE_KEY:
        raise ValueError(f"the new store key is too short to protect anything "
                         f"({MIN_STORE_KEY} characters or more)")
    return key


def _refused(problem: str) -> int:
    print(f"{problem}; nothing changed", file=sys.stderr)
    return 2


def _report(config: Config, done: Resealed, kept: Path | None, *, moved: bool) -> str:
    sealed = (f"Sealed under the new store key: {done.secrets} secret(s), {done.accounts} "
              f"Olm account(s), {done.olm_sessions} Olm session(s), {done.megolm_sessions} "
              "Megolm session(s). The old key no longer opens this database (backups made "
              "before now still need it).")
    if kept is not None and not moved:
        return f"{sealed}\nStart the bot as before."  # the new key waits beside the key file
    if kept is not None:
        return (f"{sealed}\nThe new key is in {kept}, in place of the old one: back it up "
                "with the database. Start the bot as before.")
    if os.environ.get(ENV_STORE_KEY):
        where = f"set {ENV_STORE_KEY} to the new key (it takes precedence over matrix.store_key)"
    else:
        where = f"put the new key in matrix.store_key of {config.source or 'the configuration'}"
    return (f"{sealed}\nBefore starting the bot, {where}, for every instance (standbys "
            "too): with the old key it refuses to start.")
