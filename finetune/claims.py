"""Moved to `assistant.copystudio.claims` (the copy studio's claim extractor and checker); these
names are re-exported so existing imports keep working."""

from assistant.copystudio.claims import (
    Claim,
    ClaimCheck,
    ClaimChecker,
    attribute_coverage,
    extract_claims,
    key_attributes,
    unsupported_claims,
)

__all__ = [
    "Claim",
    "ClaimCheck",
    "ClaimChecker",
    "attribute_coverage",
    "extract_claims",
    "key_attributes",
    "unsupported_claims",
]
