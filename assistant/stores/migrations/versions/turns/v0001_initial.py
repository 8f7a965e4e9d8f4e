"""The turn log's table as the pre-Alembic TurnLog created it (adopted if present).

Revision ID: turns_0001
"""

from __future__ import annotations

import sqlalchemy as sa

from assistant.stores.migrations import adopt

revision = "turns_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    adopt.create_table(
        "turns",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text, nullable=False) for name in ("created", "day", "response_id")),
        *(sa.Column(name, sa.Text, nullable=False) for name in ("surface", "route", "action")),
        sa.Column("confidence", adopt.REAL, nullable=False),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("latency_ms", adopt.REAL, nullable=False),
        sa.Column("first_text_ms", adopt.REAL),
        sa.Column("model_unavailable", sa.Integer, nullable=False),
        sa.Column("fallback", sa.Integer, nullable=False),
        sqlite_autoincrement=True,
    )
    adopt.create_index("turns_by_day", "turns", ["day"])
    adopt.create_index("turns_by_response", "turns", ["response_id"])


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: its table is the turn log")
