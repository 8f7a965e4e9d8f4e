"""The feedback file's tables as the pre-Alembic code created them (adopted if present): the
verdicts of `FeedbackStore` (with the idempotency key added to older files) and the suggestions
log of agent assist (`assistant.assist.feedback`), which shares the file.

Revision ID: feedback_0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from assistant.stores.migrations import adopt

revision = "feedback_0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    adopt.create_table(
        "feedback",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(sa.Column(name, sa.Text) for name in ("kind", "item_id", "verdict", "text", "final_text")),
        *(sa.Column(name, sa.Text) for name in ("intent", "comment", "created", "idempotency_key")),
        sqlite_autoincrement=True,
    )
    if not adopt.has_column("feedback", "idempotency_key"):  # files from before idempotency keys
        op.add_column("feedback", sa.Column("idempotency_key", sa.Text))
    adopt.create_index(
        "feedback_idempotency",
        "feedback",
        ["idempotency_key"],
        unique=True,
        sqlite_where=sa.text("idempotency_key IS NOT NULL"),
        postgresql_where=sa.text("idempotency_key IS NOT NULL"),
    )
    adopt.create_table(
        "assist_suggestions",
        sa.Column("id", sa.Text, primary_key=True),
        *(sa.Column(name, sa.Text) for name in ("ticket_id", "ticket", "intent", "category", "text")),
        *(sa.Column(name, sa.Text) for name in ("sources", "customer_id", "created")),
    )


def downgrade() -> None:
    raise NotImplementedError("the first revision is not undone: its tables hold the feedback")
