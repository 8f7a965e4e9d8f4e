"""The "Agent assist" tab: paste a ticket, get ranked suggestions, accept / edit / reject them.

A thin view over the same `SuggestService` and `AssistFeedback` as the CLI and API. Each suggestion
is a card (sources, confidence, required policy steps, placeholders to fill) above an editable text
box holding the reply; the buttons under it store the verdict with the text as it stands. Every
value in the cards' HTML is escaped, so ticket or FAQ text can never inject markup.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from assistant.assist.protocol import Suggestion, Suggestions, Ticket

if TYPE_CHECKING:
    from assistant.shop import Shop

NO_CUSTOMER = "(no customer)"

CSS = """
.assist-card {border:1px solid #d0d7de; border-radius:10px; padding:10px; background:#fff;}
.assist-head {display:flex; gap:10px; align-items:baseline; margin-bottom:6px;}
.assist-rank {font-weight:700;}
.assist-intent {font-family:monospace; font-weight:600;}
.assist-conf {margin-left:auto; font-size:0.85em; color:#0b6e4f;}
.assist-src {display:inline-block; font-family:monospace; font-size:0.8em; border-radius:6px;
  padding:1px 6px; margin:2px 4px 2px 0; background:#eef2f6;}
.assist-src-policy {background:#fff4e5;}
.assist-src-order {background:#e8f5ee;}
.assist-steps ol {margin:4px 0 4px 18px; padding:0;}
.assist-steps li {font-size:0.9em;}
.assist-ph code {background:#fdecec; color:#b42318; padding:0 4px; border-radius:4px;}
.assist-muted {font-size:0.85em; color:#555;}
.assist-ok {color:#0b6e4f; font-weight:600;}
.assist-warn {color:#b42318;}
.assist-report table {border-collapse:collapse; font-size:0.9em;}
.assist-report td, .assist-report th {border:1px solid #d0d7de; padding:2px 8px;}
"""

_e = html.escape


def render_card(s: Suggestion) -> str:
    """One suggestion's facts as escaped HTML (the reply text itself sits in the editable box)."""
    sources = "".join(
        f"<span class='assist-src assist-src-{_e(src.kind)}' data-kind='{_e(src.kind)}' "
        f"title='{_e(src.title)}'>{_e(src.kind)}: {_e(src.id)}</span>"
        for src in s.sources
    )
    parts = [
        f"<div class='assist-card' data-suggestion-id='{_e(s.id)}' data-intent='{_e(s.intent)}'>",
        f"<div class='assist-head'><span class='assist-rank'>#{s.rank}</span>"
        f"<span class='assist-intent'>{_e(s.intent)}</span>"
        f"<span class='assist-conf'>confidence {s.confidence:.2f}</span></div>",
        f"<div class='assist-sources'>{sources}</div>",
    ]
    if s.steps:
        items = "".join(
            f"<li data-action='{_e(st.action)}'><b>{_e(st.label)}</b>{': ' + _e(st.text) if st.text else ''}</li>"
            for st in s.steps
        )
        parts.append(
            f"<div class='assist-steps'>Required steps ({_e(s.subflow_name or s.subflow or '')}):<ol>{items}</ol></div>"
        )
    else:
        parts.append(
            "<div class='assist-steps assist-muted'>No policy subflow is mapped to this intent.</div>"
        )
    if s.placeholders:
        chips = " ".join(f"<code>{_e(p)}</code>" for p in s.placeholders)
        parts.append(f"<div class='assist-ph'>Fill in before sending: {chips}</div>")
    if s.filled:
        filled = ", ".join(f"{_e(k)} = {_e(v)}" for k, v in s.filled.items())
        parts.append(f"<div class='assist-muted'>Filled from data: {filled}</div>")
    if s.written_by != "template":
        removed = len(s.draft_problems)
        parts.append(
            f"<div class='assist-muted assist-by' data-written-by='{_e(s.written_by)}'>Drafted by "
            f"{_e(s.written_by)} from the FAQ answer; numbers, contacts and names checked against it"
            + (f" ({removed} unsupported sentence(s) removed)" if removed else "")
            + ".</div>"
        )
    elif s.draft_problems:
        why = "; ".join(_e(p) for p in s.draft_problems[:3])
        parts.append(
            f"<div class='assist-muted assist-by' data-written-by='template'>The FAQ answer as written "
            f"(the model's draft was not used: {why}).</div>"
        )
    parts.append("</div>")
    return "".join(parts)


def render_status(result: Suggestions) -> str:
    notes = "".join(f"<li>{_e(n)}</li>" for n in result.notes)
    notes_html = f"<ul class='assist-notes'>{notes}</ul>" if notes else ""
    if result.no_suggestion:
        return f"<div class='assist-none'><b>No suggestion.</b> {_e(result.reason)}</div>{notes_html}"
    n = len(result.suggestions)
    return (
        f"<div class='assist-muted'>{n} suggestion{'s' if n != 1 else ''} "
        f"(confidence ≥ {result.threshold:.2f}).</div>{notes_html}"
    )


def render_report(report: dict[str, Any]) -> str:
    total = report["total"]
    if not total["n"]:
        return "<div class='assist-report assist-muted'>No feedback on suggestions yet.</div>"
    rows = "".join(
        f"<tr><td>{_e(r['intent'])}</td><td>{r['n']}</td><td>{r['accept_rate']:.0%}</td>"
        f"<td>{r['edit_rate']:.0%}</td><td>{r['reject_rate']:.0%}</td></tr>"
        for r in report["intents"][:15]
    )
    return (
        f"<div class='assist-report'><div>Acceptance {total['accept_rate']:.0%}, edited {total['edit_rate']:.0%}, "
        f"rejected {total['reject_rate']:.0%} of {total['n']} verdicts.</div>"
        "<table><tr><th>intent</th><th>n</th><th>accept</th><th>edit</th><th>reject</th></tr>"
        f"{rows}</table></div>"
    )


def build_tab(shop: Shop) -> None:
    """Add this tab's components; called inside `with gr.Tab(...)`."""
    import gradio as gr

    from assistant.assist.feedback import AssistFeedback, FeedbackError
    from assistant.assist.service import TicketError
    from assistant.stores.feedback import FeedbackStore

    slots = shop.settings.assist.max_suggestions
    feedback = AssistFeedback(FeedbackStore.from_settings(shop.settings), shop.orders)
    customers = {f"{c.name} ({c.id})": c.id for c in shop.orders.customers()}

    gr.Markdown(
        "Paste a customer's ticket: suggested replies come from the shop's FAQ, policies and the "
        "customer's own orders, with the steps the policy requires. Edit, then accept or reject."
    )
    with gr.Row():
        with gr.Column(scale=3):
            ticket = gr.Textbox(
                label="Ticket", lines=4, elem_id="assist-ticket", placeholder="The customer's message…"
            )
        with gr.Column(scale=2):
            customer = gr.Dropdown(
                [NO_CUSTOMER, *customers], value=NO_CUSTOMER, label="Customer", elem_id="assist-customer"
            )
            order = gr.Textbox(label="Order id (optional)", elem_id="assist-order", max_lines=1)
            go = gr.Button("Suggest", variant="primary", elem_id="assist-suggest")
    status = gr.HTML("", elem_id="assist-status")
    state = gr.State([])
    groups, cards, texts, confirms = [], [], [], []
    buttons: list[tuple[Any, Any, Any]] = []
    for i in range(slots):
        with gr.Group(visible=False, elem_id=f"assist-slot-{i}") as group:
            cards.append(gr.HTML("", elem_id=f"assist-card-{i}"))
            texts.append(
                gr.Textbox(
                    label="Reply (edit before sending)", lines=8, interactive=True, elem_id=f"assist-text-{i}"
                )
            )
            with gr.Row():
                buttons.append(
                    (
                        gr.Button("Accept", variant="primary", elem_id=f"assist-accept-{i}"),
                        gr.Button("Save edit", elem_id=f"assist-edit-{i}"),
                        gr.Button("Reject", variant="stop", elem_id=f"assist-reject-{i}"),
                    )
                )
            confirms.append(gr.HTML("", elem_id=f"assist-fb-{i}"))
        groups.append(group)
    with gr.Accordion("Acceptance report", open=True):
        report = gr.HTML(render_report(feedback.report()), elem_id="assist-report")

    def suggest(text: str, who: str, order_id: str) -> list[Any]:
        customer_id = customers.get(who)
        try:
            result = shop.suggest.run(
                Ticket(text=text or "", customer_id=customer_id, order_id=(order_id or "").strip() or None)
            )
        except TicketError as exc:
            result = None
            head = f"<div class='assist-warn'>⚠️ {_e(str(exc))}</div>"
        if result is not None:
            feedback.record(result, customer_id)
            head = render_status(result)
        shown = result.suggestions if result is not None else []
        out: list[Any] = [head, [s.model_dump(mode="json") for s in shown]]
        for i in range(slots):
            s = shown[i] if i < len(shown) else None
            out += [
                gr.update(visible=s is not None),
                render_card(s) if s else "",
                s.text if s else "",
                "",
            ]
        return out

    outputs: list[Any] = [status, state]
    for i in range(slots):
        outputs += [groups[i], cards[i], texts[i], confirms[i]]
    go.click(suggest, [ticket, customer, order], outputs)
    ticket.submit(suggest, [ticket, customer, order], outputs)

    labels = {"accept": "Accepted", "edit": "Edit saved", "reject": "Rejected"}

    def make_handler(i: int, verdict: str) -> Any:
        def handle(shown: list[dict[str, Any]], text: str) -> tuple[str, str]:
            if i >= len(shown):
                return "<div class='assist-warn'>Nothing to give feedback on.</div>", render_report(
                    feedback.report()
                )
            suggestion_id = shown[i]["id"]
            try:
                stored = feedback.give(suggestion_id, verdict, text if verdict != "reject" else "")  # type: ignore[arg-type]
            except FeedbackError as exc:
                return f"<div class='assist-warn'>⚠️ {_e(str(exc))}</div>", render_report(feedback.report())
            word = labels[stored.verdict]
            note = " (the text was unchanged)" if verdict == "edit" and stored.verdict == "accept" else ""
            confirm = (
                f"<div class='assist-ok' data-feedback-id='{stored.id}' data-verdict='{_e(stored.verdict)}'>"
                f"✓ {word}{note}: saved as feedback #{stored.id}.</div>"
            )
            return confirm, render_report(feedback.report())

        return handle

    for i, (accept, edit, reject) in enumerate(buttons):
        for button, verdict in ((accept, "accept"), (edit, "edit"), (reject, "reject")):
            button.click(make_handler(i, verdict), [state, texts[i]], [confirms[i], report])
