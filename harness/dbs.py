"""Database URLs for tests: SQLite always, PostgreSQL where a server answers."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

POSTGRES = os.environ.get("COORDBOT_TEST_POSTGRES",
                          "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def unavailable(problem: str) -> None:
    """Skip a test whose server is missing, saying why; in CI (CI=true) fail instead, so that
    a run without PostgreSQL or Synapse can never pass for a full one."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{problem} (CI=true: required)", pytrace=False)
    pytest.skip(problem)


def postgres_problem() -> str | None:
    """Why PostgreSQL cannot be used here, or None when it can."""
    try:
        engine = create_engine(POSTGRES, connect_args={"connect_timeout": 3})
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        engine.dispose()
        return None
    except Exception as exc:  # noqa: BLE001 - any failure means: skip, saying why
        return f"no PostgreSQL server answers at {POSTGRES} ({type(exc).__name__})"


@contextmanager
def database_url(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh, empty database of `kind` ("sqlite" or "postgresql")."""
    if kind == "sqlite":
        yield f"sqlite:///{tmp}/coordbot.db"
        return
    problem = postgres_problem()
    if problem:
        unavailable(problem)
    schema = f"t_{secrets.token_hex(6)}"
    admin = create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    sep = "&" if "?" in POSTGRES else "?"
    try:
        yield f"{POSTGRES}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@contextmanager
def own_database() -> Iterator[tuple[str, str, Any]]:
    """A PostgreSQL database of its own (name, URL, an admin engine), dropped afterwards:
    for a test that cuts it off, or restores a dump into it."""
    problem = postgres_problem()
    if problem:
        unavailable(problem)
    name = f"coordbot_{secrets.token_hex(5)}"
    admin = create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    base = POSTGRES.rsplit("/", 1)[0]
    try:
        yield name, f"{base}/{name}", admin
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" ALLOW_CONNECTIONS true'))
            conn.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :n"), {"n": name})
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
