"""The tab's HTML is built from data with every value escaped."""

from __future__ import annotations

from assistant.assist.protocol import Source, Step, Suggestion, Suggestions
from assistant.ui.assist_tab import render_card, render_report, render_status

EVIL = "<img src=x onerror=alert(1)>"


def test_cards_escape_every_value():
    s = Suggestion(
        id=f"sug-{EVIL}",
        rank=1,
        text=EVIL,
        intent=EVIL,
        confidence=0.5,
        sources=[Source(kind="faq", id=EVIL, title=EVIL)],
        subflow="x",
        subflow_name=EVIL,
        steps=[Step(action=EVIL, label=EVIL, text=EVIL)],
        placeholders=[EVIL],
        filled={EVIL: EVIL},
    )
    html = render_card(s) + render_card(s.model_copy(update={"written_by": EVIL}))
    html += render_card(s.model_copy(update={"draft_problems": [EVIL]}))
    html += render_status(Suggestions(ticket_id="t", suggestions=[s], notes=[EVIL], threshold=0.5))
    html += render_status(Suggestions(ticket_id="t", no_suggestion=True, reason=EVIL, threshold=0.5))
    report = {
        "total": {"n": 1, "accept_rate": 1.0, "edit_rate": 0.0, "reject_rate": 0.0},
        "intents": [{"intent": EVIL, "n": 1, "accept_rate": 1.0, "edit_rate": 0.0, "reject_rate": 0.0}],
    }
    html += render_report(report)
    assert "<img" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
    assert "confidence 0.50" in html and "Fill in before sending" in html
    assert "Drafted by &lt;img" in html and "draft was not used: &lt;img" in html
