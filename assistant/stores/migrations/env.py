"""Alembic's entry point for the stores' migrations (see `assistant.stores.db`).

`db.upgrade` runs this with an open connection, already inside the transaction that holds the
migration lock, and the store's own version table. Run by hand (`alembic` with a configuration
from `db.alembic_config`), it connects to `-x url=...` itself.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context

config = context.config
version_table = config.attributes.get("version_table", "alembic_version")


def run(connection: sa.engine.Connection) -> None:
    context.configure(connection=connection, version_table=version_table, transactional_ddl=True)
    with context.begin_transaction():
        context.run_migrations()


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
else:
    url = context.get_x_argument(as_dictionary=True).get("url")
    if not url:
        raise SystemExit("give the database: alembic -x url=postgresql+psycopg://... upgrade head")
    with sa.create_engine(url).connect() as conn:
        run(conn)
        conn.commit()
