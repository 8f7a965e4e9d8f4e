"""Settings of agent assist (the `assist` section of shopassist.toml, SHOPASSIST_ASSIST__*)."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field


class AssistSettings(BaseModel):
    max_suggestions: int = Field(default=3, ge=1, le=10, description="Suggested replies per ticket")
    min_confidence: float = Field(
        default=0.5,
        ge=0.0,
        le=1.0,
        description="A suggestion needs at least this retriever confidence (similarity of the ticket to its "
        "FAQ entry); with none above it the answer is 'no suggestion' (see `eval suggest` for the "
        "coverage/accuracy curve)",
    )
    policies: Path | None = Field(
        default=None,
        description="Agent guidelines in ABCD format: a folder with abcd_guidelines.json, abcd_kb.json and "
        "abcd_ontology.json, or one JSON file holding them as guidelines/kb/ontology; empty means the "
        "packaged demo policies",
    )
    policy_map: Path | None = Field(
        default=None,
        description="JSON file mapping FAQ entry ids and categories to policy subflows; empty means the "
        "packaged map (demo shop and Bitext intents)",
    )
    placeholder_values: dict[str, str] = Field(
        default_factory=dict,
        description="Values for {{Placeholders}} the shop knows, e.g. {'Customer Support Phone Number': "
        "'+1-800-555-0142'}; the shop name fills Website/Company/Store Name, the ticket's customer and "
        "order fill Customer Name and Order Number",
    )
    model_opening: bool = Field(
        default=False,
        description="Let the model phrase the suggestions' opening sentence, once per ticket (verified against the sources "
        "like the chat's intro, else the template sentence); off is faster and fully templated",
    )
    max_ticket_chars: int = Field(default=5000, ge=10, description="Longest ticket text accepted")
