"""Alembic environment: runs on the connection the store hands over (no URL of its own)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

from core.data import twin  # noqa: F401 - registers the tables on SQLModel.metadata

target_metadata = SQLModel.metadata
connection = context.config.attributes.get("connection")
if connection is None:  # pragma: no cover - the store always passes one
    raise RuntimeError("run migrations through core.data.migrate.upgrade(engine)")
context.configure(connection=connection, target_metadata=target_metadata,
                  render_as_batch=connection.dialect.name == "sqlite")
with context.begin_transaction():
    context.run_migrations()
