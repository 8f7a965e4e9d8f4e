"""The order tables as the pre-Alembic OrderStore created them (adopted if present).

Revision ID: orders_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from assistant.stores.migrations import adopt

revision = "orders_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    adopt.create_table(
        "customers",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("name", sa.Text, nullable=False),
        sa.Column("email", sa.Text),
        sa.Column("city", sa.Text),
        sa.Column("state", sa.Text),
        sa.Column("joined", sa.Text),
        sa.Column("preferred_categories", sa.Text, server_default="[]"),
        sa.Column("preferred_brands", sa.Text, server_default="[]"),
    )
    adopt.create_table(
        "orders",
        sa.Column("order_id", sa.Text, primary_key=True),
        sa.Column("customer_id", sa.Text, sa.ForeignKey("customers.id"), nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("placed_at", sa.Text),
        sa.Column("shipped_at", sa.Text),
        sa.Column("delivered_at", sa.Text),
        sa.Column("estimated_delivery", sa.Text),
        sa.Column("carrier", sa.Text),
        sa.Column("tracking_number", sa.Text),
        sa.Column("shipping_method", sa.Text),
        sa.Column("total", adopt.REAL, nullable=False),
    )
    adopt.create_table(
        "order_items",
        sa.Column("order_id", sa.Text, sa.ForeignKey("orders.order_id"), nullable=False),
        sa.Column("product_id", sa.Text, nullable=False),
        sa.Column("title", sa.Text),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", adopt.REAL, nullable=False),
    )
    adopt.create_index("orders_by_customer", "orders", ["customer_id"])


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: its tables hold the shop's orders")
