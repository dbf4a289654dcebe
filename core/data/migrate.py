"""Schema migrations with Alembic: every start upgrades the database to head, keeping its data."""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Iterator
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

MIGRATIONS = Path(__file__).parent / "migrations"
#: The first revision: the schema twinboard 0.1 created without Alembic.
BASELINE = "0001"


def alembic_config(engine: Engine) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


#: pg_advisory_xact_lock key that serialises schema upgrades of processes starting together
MIGRATION_LOCK_KEY = 0x7477696E  # "twin"


@contextlib.contextmanager
def _sqlite_file_lock(engine: Engine) -> Iterator[None]:
    """An exclusive lock beside an SQLite file, so processes starting together upgrade it one at a time."""
    db = engine.url.database
    if not db or db == ":memory:":
        yield
        return
    with open(f"{db}.migrate.lock", "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a pre-Alembic database is stamped at the baseline first.

    Web processes and workers start together and each calls this: a lock (an advisory lock on
    PostgreSQL, a lock file beside an SQLite database) lets one upgrade while the others wait and then
    find the schema at head.
    """
    cfg = alembic_config(engine)
    lock = _sqlite_file_lock(engine) if engine.dialect.name == "sqlite" else contextlib.nullcontext()
    with lock, engine.begin() as conn:
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({MIGRATION_LOCK_KEY})")
        cfg.attributes["connection"] = conn
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and "reading" in tables:
            command.stamp(cfg, BASELINE)
        command.upgrade(cfg, revision)
