"""`coordbot` command line.

Each subcommand imports what it needs when it runs (nio, the database, the local homeserver):
`coordbot --version` and `check-config` answer at once, without loading any of it."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot import __version__
from bot.config import ConfigError, load_config
from bot.logs import setup_logging


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coordbot", description=(
        "Matrix bot for coordination rooms: meetings, agendas, consensus decisions, reminders."))
    parser.add_argument("--version", action="version", version=f"coordbot {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the bot")
    run.add_argument("-c", "--config", required=True, help="configuration file (YAML)")
    run.add_argument("--log-level", default="INFO")
    check = sub.add_parser("check-config", help="validate a configuration file")
    check.add_argument("-c", "--config", required=True)
    demo = sub.add_parser("demo", help="a throwaway local homeserver with an encrypted demo room")
    demo.add_argument("--dir", help="keep the demo's files here instead of a temporary folder")
    demo.add_argument("--log-level", default="INFO")
    audit = sub.add_parser("audit", help="the audit trail of decisions").add_subparsers(
        dest="audit_command", required=True)
    export = audit.add_parser("export", help="one room's decisions, votes and changes, "
                              "written to standard output")
    export.add_argument("--room", required=True, help="the Matrix room id")
    export.add_argument("--format", choices=("csv", "json"), default="csv")
    export.add_argument("-c", "--config", default="config.yaml")
    restore = sub.add_parser(
        "restore-identity", help="put the bot's cross-signing identity back from its recovery "
        "key, read from standard input (with the bot stopped)")
    restore.add_argument("-c", "--config", required=True)
    rotate = sub.add_parser(
        "rotate-store-key", help="seal the secrets in the database under a new store key, "
        "read from standard input (with the bot stopped)", description="Seal every secret "
        "in the database under a new store key, in one transaction; the current key is the "
        "one the bot starts with (matrix.store_key, COORDBOT_STORE_KEY or the key file). The "
        "bot must be stopped. Then give the bot the new key (the command says where); a "
        "key file beside an SQLite database is replaced by the command itself.")
    rotate.add_argument("-c", "--config", required=True)
    rotate.add_argument("--generate", action="store_true", help="make a random new key "
                        "instead, kept in the key file beside an SQLite database (only when "
                        "that file holds the current key)")
    minutes = sub.add_parser("minutes", help="the minutes of a meeting, written to a Word "
                             "document (.docx) for the archive")
    minutes.add_argument("--room", required=True, help="the Matrix room id")
    minutes.add_argument("--meeting", required=True, help="the meeting's short id, e.g. M3")
    minutes.add_argument("--date", help="the occurrence, YYYY-MM-DD (default: the one in "
                         "progress or held today, else the last one held)")
    minutes.add_argument("-o", "--output", help="the file to write (default: the document's "
                         "own name, in the current folder)")
    minutes.add_argument("-c", "--config", default="config.yaml")
    purge = sub.add_parser("purge", help="apply the retention settings now")
    purge.add_argument("--dry-run", action="store_true", help="only say what would be deleted")
    purge.add_argument("-c", "--config", default="config.yaml")
    args = parser.parse_args(argv)

    if args.command == "check-config":
        return check_config(args.config)
    if args.command == "run":
        config = _config(args.config)
        if config is None:
            return 2
        m = config.matrix
        setup_logging(args.log_level, secrets=[m.password, m.access_token, m.store_key])
        return asyncio.run(_run(config))
    if args.command == "audit":
        from bot.audit import export_command

        return export_command(args.config, args.room, args.format)
    if args.command == "purge":
        return purge_command(args.config, args.dry_run)
    if args.command == "minutes":
        return minutes_command(args)
    if args.command == "restore-identity":
        return restore_identity_command(args.config)
    if args.command == "rotate-store-key":
        return rotate_store_key_command(args.config, args.generate)
    if args.command == "demo":
        from bot.demo import run_demo

        setup_logging(args.log_level)
        return run_demo(args.dir)
    return 2


def check_config(path: str) -> int:
    config = _config(path)
    if config is None:
        return 2
    m = config.matrix
    print(f"{path}: OK (bot {m.user_id}, database {config.storage.database.split(':', 1)[0]})")
    if m.access_token:
        print(f"  login: the access token of device {m.device_id}")
    elif m.password:
        print("  login: the password (first start; the login is then kept in the database)")
    else:
        print("  login: none configured (matrix.password, or matrix.access_token with "
              "matrix.device_id): the bot can start only from a login saved in its database")
    return 0


def purge_command(path: str, dry_run: bool) -> int:
    from datetime import UTC, datetime

    from bot.retention import purge
    from bot.storage.db import Database

    config = _config(path)
    if config is None:
        return 2
    db = Database(config.storage.database)
    db.migrate(config.bot.require_cross_signed_devices)
    result = db.call(lambda s: purge(s, config, datetime.now(UTC), dry_run=dry_run))
    db.close()
    print("Would delete:" if dry_run else "Deleted:")
    for line in result.lines():
        print(f"  {line}")
    return 0


def minutes_command(args: argparse.Namespace) -> int:
    from bot.commands.minutes.archive import archive

    config = _config(args.config)
    if config is None:
        return 2
    return archive(config, args.room, args.meeting, args.date, args.output)


def restore_identity_command(path: str) -> int:
    from getpass import getpass

    from bot.matrix.crosssigning import restore_identity
    from bot.storage.db import Database
    from bot.storage.sealing import StoreKeyProblem
    from bot.storage.vault import Vault

    config = _config(path)
    if config is None:
        return 2
    # never an argument: it would stay in the shell's history and the process list
    text = getpass("Recovery key: ") if sys.stdin.isatty() else sys.stdin.readline()
    user = config.matrix.user_id
    db = Database(config.storage.database)
    try:
        db.migrate()
        changed = restore_identity(Vault.open(db, config.matrix.store_key), user, text)
    except (ValueError, StoreKeyProblem) as err:
        print(f"{err}; nothing changed", file=sys.stderr)
        return 2
    finally:
        db.close()
    if not changed:
        print(f"The database already holds this master key of {user}; nothing changed.")
        return 0
    how = ("the homeserver asks for the account's password, which is configured" if
           config.matrix.password else "the homeserver asks for the account's password: "
           "set COORDBOT_MATRIX_PASSWORD for that start; or, on a homeserver that signs in "
           "through a browser, for an approval there, at the address the bot's log gives")
    print(f"Master key of {user} restored in the database, with new self-signing and "
          f"user-signing keys. At its next start the bot publishes them ({how}) and signs "
          "its device; whoever verified the bot trusts it again.")
    return 0


def rotate_store_key_command(path: str, generate: bool) -> int:
    from bot.storekey import rotate_store_key

    config = _config(path)
    return 2 if config is None else rotate_store_key(config, generate=generate)


def _config(path: str):
    """The configuration, or None after saying on standard error what is wrong with it."""
    try:
        return load_config(path)
    except ConfigError as err:
        _print_problems(path, err)
        return None


def _print_problems(path: str, err: ConfigError) -> None:
    print(f"{path}: {len(err.problems)} problem(s)", file=sys.stderr)
    for p in err.problems:
        print(f"  - {p}", file=sys.stderr)


async def _run(config) -> int:
    from bot.app import Bot
    from bot.leader import AlreadyRunning, LeadershipLost
    from bot.matrix.session import LoginFailed
    from bot.stopping import stop_on_signals
    from bot.storage.sealing import StoreKeyProblem

    bot = Bot(config)
    stop_on_signals(asyncio.current_task())
    try:
        await bot.run()
    except (LoginFailed, StoreKeyProblem) as exc:
        logging.getLogger("coordbot").error("%s", exc)
        return getattr(exc, "exit_code", 2)  # the operator must act: restarting cannot help
    except (AlreadyRunning, LeadershipLost) as exc:
        logging.getLogger("coordbot").error("%s", exc)
        return 1
    except asyncio.CancelledError:
        logging.getLogger("coordbot").info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
