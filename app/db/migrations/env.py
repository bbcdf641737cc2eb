"""Alembic environment. Run through `peerready db upgrade` (app/db/migrate.py), not alembic.ini."""

from alembic import context
from sqlalchemy import engine_from_config, pool

from app.db.tables import metadata

config = context.config
target_metadata = metadata


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        connectable = engine_from_config(
            config.get_section(config.config_ini_section, {}), prefix="sqlalchemy.", poolclass=pool.NullPool
        )
        with connectable.connect() as connection:
            _run(connection)
    else:
        _run(connectable)


def _include_name(name, type_, parent_names) -> bool:  # noqa: ANN001
    # The job queue's own tables (huey_*, PostgreSQL) are created and owned by huey, not by us.
    return not (type_ == "table" and name is not None and name.startswith("huey_"))


def _run(connection) -> None:  # noqa: ANN001
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=_include_name,
        compare_type=True,
        # SQLite cannot ALTER most things in place; batch mode copies the table instead.
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


run_migrations_online()
