"""The position of an item in its order, so items keep their order on PostgreSQL too.

The SQLite code listed an order's items by `rowid`, which PostgreSQL does not have. Existing rows
get their rowid as their line, which sorts them exactly as before.

Revision ID: orders_0002
Revises: orders_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.stores.migrations import adopt

revision = "orders_0002"
down_revision = "orders_0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if not adopt.has_column("order_items", "line"):
        op.add_column("order_items", sa.Column("line", sa.Integer))
    if op.get_bind().dialect.name == "sqlite":
        op.execute("UPDATE order_items SET line = rowid WHERE line IS NULL")


def downgrade() -> None:
    op.drop_column("order_items", "line")
