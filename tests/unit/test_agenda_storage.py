"""Upgrading a database with meetings to the agenda schema keeps every meeting row."""

from __future__ import annotations

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import text

from bot.storage.db import MIGRATIONS, make_engine


def test_agenda_migration_keeps_meetings_and_their_changes(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/old.db")
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "0002m")
    with engine.begin() as conn:
        conn.execute(text(
            "INSERT INTO rooms VALUES (1, '!r:x', 'tfl', 'R', 'en', 'Europe/Brussels', '1d', "
            "172800, '@a:x', '2026-01-01 00:00:00')"))
        conn.execute(text(
            "INSERT INTO meetings (id, room_id, number, title, start, tz, duration, sequence, "
            "uid, created_by, created_at, cancelled) VALUES (1, 1, 1, 'T', "
            "'2026-02-01 10:00:00', 'Europe/Brussels', 3600, 0, 'u', '@a:x', "
            "'2026-01-01 00:00:00', 0)"))
        conn.execute(text(
            "INSERT INTO meeting_changes VALUES (1, 1, '2026-02-01 10:00:00', 1, NULL, '@a:x', "
            "'2026-01-02 00:00:00')"))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "heads")
    with engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM meeting_changes")).scalar() == 1
        assert conn.execute(text("SELECT agenda_planned FROM meetings")).all() == [(None,)]
    engine.dispose()
