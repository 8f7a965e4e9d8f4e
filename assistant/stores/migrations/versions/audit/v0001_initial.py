"""The audit table as the pre-Alembic AuditLog created it (adopted if present).

Revision ID: audit_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from assistant.stores.migrations import adopt

revision = "audit_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    adopt.create_table(
        "audit",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ts", adopt.REAL, nullable=False),
        *(sa.Column(name, sa.Text, nullable=False) for name in ("actor", "role", "action", "customer_id")),
        sa.Column("order_id", sa.Text),
        sa.Column("client", sa.Text),
        sqlite_autoincrement=True,
    )
    adopt.create_index("audit_by_customer", "audit", ["customer_id", "ts"])


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: its table is the audit trail")
