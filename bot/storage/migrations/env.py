"""Alembic environment: run with a connection handed in by bot.storage.db.migrate()."""

from alembic import context

from bot.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # `alembic` command line: build an engine from the URL
    from sqlalchemy import create_engine

    engine = create_engine(config.get_main_option("sqlalchemy.url"))
    connection = engine.connect()

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
