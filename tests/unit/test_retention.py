"""Retention: closed proposals, the audit trail and the bot's working records are purged."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from bot.cli import main
from bot.retention import DailyPurge, purge
from bot.storage.proposals import AuditEntry, Proposal, VoteRecord


def counts(chat):
    def read(s):
        return {m.__name__: s.scalar(select(func.count()).select_from(m))
                for m in (Proposal, VoteRecord, AuditEntry)}
    return chat.db.call(read)


def test_closed_proposals_go_after_the_retention_period_open_ones_stay(chat):
    chat.setup("tfl")
    chat.send("@coord:example.org", "!service @alice:example.org Police")
    chat.send("@alice:example.org", "!propose Closed one")
    chat.send("@alice:example.org", "!vote P1 agree")  # the only service: closes at once
    chat.send("@alice:example.org", "!propose Still open --deadline 50w")
    before = counts(chat)
    assert before["Proposal"] == 2 and before["VoteRecord"] == 1

    later = chat.now + timedelta(days=731)  # P2 is still open in the database
    cfg = chat.config
    dry = chat.db.call(lambda s: purge(s, cfg, later, dry_run=True))
    assert dry.proposals == 1 and counts(chat) == before  # a dry run deletes nothing
    done = chat.db.call(lambda s: purge(s, cfg, later))
    assert done.proposals == 1
    after = counts(chat)
    assert after["Proposal"] == 1 and after["VoteRecord"] == 0
    assert after["AuditEntry"] == before["AuditEntry"]  # kept ten years by default
    gone = chat.db.call(lambda s: purge(s, cfg, chat.now + timedelta(days=3651)))
    assert gone.audit_entries == before["AuditEntry"]
    assert "Still open" in chat.send("@alice:example.org", "!proposals")


def test_the_daily_purge_runs_once_a_day(chat):
    work = DailyPurge(chat.config)
    now = chat.now
    assert chat.db.call(lambda s: work.next_due(s, now)) == now
    said = []
    chat.db.call(lambda s: work.run_due(s, now, said))
    assert chat.db.call(lambda s: work.next_due(s, now)) == now + timedelta(days=1)
    assert chat.db.call(lambda s: work.run_due(s, now + timedelta(hours=1), said)) == 0
    assert said == []  # retention says nothing


def test_purge_command_dry_run(tmp_path, capsys):
    cfg = tmp_path / "config.yaml"
    cfg.write_text("matrix:\n  homeserver: http://127.0.0.1:1\n  user_id: '@b:example.org'\n"
                   "storage:\n  database: sqlite:///./bot.db\nretention:\n  proposals: 30d\n")
    assert main(["purge", "--dry-run", "-c", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert "Would delete:" in out and "closed proposals (with their votes): 0" in out
