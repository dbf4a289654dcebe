"""Alembic migrations: an upgrade keeps existing data, on SQLite and PostgreSQL."""

from __future__ import annotations

from sqlalchemy import inspect, text
from sqlmodel import SQLModel

from core.plugins.contributions import Reading
from core.data.migrate import current_revision, upgrade
from core.data.store import Store, make_engine, open_store
from core.data.users import Users


def _url(request, tmp_path, kind: str) -> str:
    if kind == "sqlite":
        return f"sqlite:///{tmp_path / 'old.sqlite'}"
    return request.getfixturevalue("pg_cluster").new_database()


import pytest  # noqa: E402


def _head() -> str:
    """The newest migration's revision (several are added by parallel work; the test follows the files)."""
    from alembic.script import ScriptDirectory

    from core.data.migrate import MIGRATIONS
    [head] = ScriptDirectory(str(MIGRATIONS)).get_heads()
    return head


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_upgrade_from_previous_schema_keeps_data(request, tmp_path, kind: str) -> None:
    url = _url(request, tmp_path, kind)
    engine = make_engine(url)
    upgrade(engine, "0001")  # the schema of twinboard 0.1, before users existed
    assert "user_account" not in inspect(engine).get_table_names()
    old = Store(engine)
    old.ingest([Reading("t1", "level", 1.0, 4.5, "m"), Reading("t1", "level", 2.0, 5.5, "m")])
    old.set_plugin_enabled("demo_sensors", False, "zhang")
    engine.dispose()

    store = open_store(url)  # a new version starting on the old database
    assert current_revision(store.engine) == _head()
    assert [(lv.ts, lv.value) for lv in store.latest()] == [(2.0, 5.5)]
    assert store.plugin_state("demo_sensors").enabled is False
    assert store.audit_log()[0].actor == "zhang"
    Users(store).add("admin1", "long-password", "admin", "test")
    assert Users(store).count() == 1


def test_pre_alembic_database_is_stamped_and_upgraded(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'created_all.sqlite'}"
    engine = make_engine(url)
    upgrade(engine, "0001")
    with engine.begin() as conn:  # 0.1 made these same tables with create_all, without Alembic's table
        conn.execute(text("DROP TABLE alembic_version"))
    Store(engine).ingest([Reading("a", "m", 1.0, 1.0)])
    engine.dispose()
    store = open_store(url)
    assert current_revision(store.engine) == _head() and store.reading_count() == 1
    with store.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM user_account")).scalar() == 0


def test_models_and_migrations_agree(tmp_path) -> None:
    """A model change without a migration fails here (alembic's autogenerate finds no difference)."""
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext
    store = open_store(f"sqlite:///{tmp_path / 'head.sqlite'}")
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), SQLModel.metadata)
    assert diff == []
