"""In CI (CI=true) a missing server fails the suite; elsewhere its tests are skipped, saying
why."""

from __future__ import annotations

import pytest

from harness import dbs

NOWHERE = "postgresql+psycopg://nobody@127.0.0.1:1/none"


def enter(tmp_path) -> None:
    with dbs.database_url("postgresql", tmp_path):
        raise AssertionError("no server answers there")


def test_without_postgresql_ci_fails_and_a_developer_sees_a_skip(monkeypatch, tmp_path):
    monkeypatch.setattr(dbs, "POSTGRES", NOWHERE)
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception,
                       match=r"no PostgreSQL server answers .*\(CI=true: required\)"):
        enter(tmp_path)
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception, match="no PostgreSQL server answers"):
        enter(tmp_path)


def test_without_synapse_ci_fails(monkeypatch):
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="CI=true: required"):
        dbs.unavailable("Synapse is not installed")
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception):
        dbs.unavailable("Synapse is not installed")
