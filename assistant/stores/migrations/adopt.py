"""What the first revision of each store needs to adopt a database the pre-Alembic code made.

That code created its tables with `CREATE TABLE IF NOT EXISTS` on open, and added a column or an
index to files that lacked them. So an existing file may hold all, some or none of a store's
tables: the first revision creates only what is missing and never touches a row, then Alembic
stamps the file. Runs inside the migration's locked transaction, so the inspection cannot race.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from alembic import op

# The pre-Alembic tables' REAL columns: REAL on SQLite as they were, double precision on PostgreSQL.
# Frozen here for the first revisions (the live schema has its own in `assistant.stores.db`).
REAL: sa.types.TypeEngine[float] = sa.Double().with_variant(sa.REAL(), "sqlite")


def has_table(name: str) -> bool:
    return sa.inspect(op.get_bind()).has_table(name)


def has_column(table: str, column: str) -> bool:
    return column in {c["name"] for c in sa.inspect(op.get_bind()).get_columns(table)}


def create_table(name: str, *columns: Any, **kw: Any) -> None:
    if not has_table(name):
        op.create_table(name, *columns, **kw)


def create_index(name: str, table: str, columns: list[str], **kw: Any) -> None:
    if name not in {i["name"] for i in sa.inspect(op.get_bind()).get_indexes(table)}:
        op.create_index(name, table, columns, **kw)
