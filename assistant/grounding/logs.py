"""Logging that never keeps a customer's contact details.

Every handler the CLI sets up gets `RedactPII`, which scrubs the formatted message (e-mails, phone
and card numbers, street addresses). Order ids are kept: the order-probe warnings are a security
audit trail and name the order that was asked for, never its owner's details.
"""

from __future__ import annotations

import logging

from assistant.grounding.pii import scrub

LOG_KINDS = {"email", "phone", "card", "address"}


class RedactPII(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = scrub(message, LOG_KINDS)
        if clean != message:
            record.msg, record.args = clean, ()
        return True


def install_redaction(logger: logging.Logger | None = None) -> None:
    """Add the filter to every handler of `logger` (the root logger by default), once."""
    for handler in (logger or logging.getLogger()).handlers:
        if not any(isinstance(f, RedactPII) for f in handler.filters):
            handler.addFilter(RedactPII())
