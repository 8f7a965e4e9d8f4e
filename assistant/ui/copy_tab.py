"""The "Product copy" tab: pick a product, set the controls, see checked copy with its claims marked.

A thin view over `CopyService` (the same one the CLI and API use). All HTML is built here from
escaped text: product data and model output can never inject markup. Claims are wrapped in
`<mark>`: `claim-bad` for an unsupported one (in the model's drafts; the final copy has none),
`claim-ok` for one the attributes back.
"""

from __future__ import annotations

import html
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from assistant.copystudio.protocol import FORMS, LENGTHS, TONES, CopyControls, CopyRequest, CopyResult
from assistant.grounding.claims import Claim

if TYPE_CHECKING:
    from assistant.shop import Shop

LANGUAGES = ["en", "es", "fr", "de", "it", "pt"]
NOBODY = "(no personalization)"
ALL = "(all categories)"

CSS = """
#copy-output .copy-text {border:1px solid #d0d7de; border-radius:10px; padding:12px; background:#fff;
  line-height:1.55; white-space:normal;}
#copy-output .copy-empty, #copy-report .copy-empty {color:#888;}
mark.claim-ok {background:#e6f4ea; border-bottom:2px solid #34a853; padding:0 1px;}
mark.claim-bad {background:#fde2e1; border-bottom:2px solid #d93025; padding:0 1px;}
#copy-report .copy-stats {display:flex; flex-wrap:wrap; gap:8px; margin-bottom:8px;}
#copy-report .stat {border:1px solid #d0d7de; border-radius:8px; padding:4px 8px; font-size:0.9em;}
#copy-report .source-model {background:#e6f4ea;} #copy-report .source-repaired {background:#fff4ce;}
#copy-report .source-template {background:#e8eaed;}
#copy-report .copy-note {color:#8a4b00; margin:6px 0;}
#copy-report .draft {border-left:3px solid #d0d7de; padding:4px 10px; margin:6px 0; font-size:0.92em;}
#copy-report .draft .why {color:#b42318; font-size:0.85em;}
"""


def highlight(text: str, claims: Sequence[Claim]) -> str:
    """The text as HTML with every claim wrapped in a mark; everything escaped, newlines kept."""
    out: list[str] = []
    pos = 0
    for claim in sorted(claims, key=lambda c: c.start):
        if claim.start < pos or claim.end > len(text) or (claim.kind == "name" and claim.supported):
            continue  # a backed capitalised word is just a word; marking each one is noise
        out.append(html.escape(text[pos : claim.start]))
        css = "claim-ok" if claim.supported else "claim-bad"
        tip = f"{claim.kind}: {claim.reason}" if claim.reason else claim.kind
        out.append(
            f"<mark class='{css}' title='{html.escape(tip, quote=True)}'>{html.escape(claim.text)}</mark>"
        )
        pos = claim.end
    out.append(html.escape(text[pos:]))
    return "".join(out).replace("\n", "<br>")


def render_copy(result: CopyResult | None) -> str:
    if result is None:
        return "<div class='copy-empty'>Pick a product and press Generate.</div>"
    return (
        f"<div class='copy-text' data-source='{result.source}'>{highlight(result.text, result.claims)}</div>"
    )


def render_report(result: CopyResult | None) -> str:
    if result is None:
        return "<div class='copy-empty'>Coverage, outcome and the model's drafts appear here.</div>"
    lo, hi = result.length_range
    e = html.escape
    stats = [
        f"<span class='stat source-{result.source}' data-source='{result.source}'>outcome: {result.source}</span>",
        f"<span class='stat coverage'>coverage: {result.coverage:.0%}</span>",
        f"<span class='stat words'>{result.word_count} words ({lo}-{hi}){'' if result.length_ok else ' - outside range'}</span>",
        f"<span class='stat unsupported'>unsupported claims: {len(result.unsupported)}</span>",
        f"<span class='stat adapter'>model: {e(result.adapter or 'base')}</span>",
    ]
    parts = [f"<div class='copy-stats'>{''.join(stats)}</div>"]
    if result.language_note:
        parts.append(f"<div class='copy-note'>{e(result.language_note)}</div>")
    if result.model_unavailable:
        parts.append(
            f"<div class='copy-note'>The model is unavailable ({e(result.model_unavailable)}); the copy is from the template.</div>"
        )
    if result.missing:
        parts.append(f"<div class='missing'>Not mentioned: {e(', '.join(result.missing))}</div>")
    if result.facts_added:
        parts.append(f"<div class='facts'>Rendered from data: {e(', '.join(result.facts_added))}</div>")
    if result.personalized:
        parts.append(f"<div class='personal'>Personalized by: {e(', '.join(result.personalized))}</div>")
    for k, draft in enumerate(result.drafts, 1):
        why = [f"{c.text}: {c.reason}" for c in draft.unsupported] + draft.problems
        reasons = "".join(f"<div class='why'>{e(w)}</div>" for w in why)
        parts.append(
            f"<div class='draft' data-draft='{k}'><b>Draft {k}</b> ({len(draft.unsupported)} unsupported)<br>"
            f"{highlight(draft.text, draft.claims) or '<i>empty</i>'}{reasons}</div>"
        )
    return "".join(parts)


def build_tab(shop: Shop) -> None:
    """Add this tab's components; called inside `with gr.Tab(...)`."""
    import gradio as gr

    from assistant.copystudio.batch import CopyBatch, select_products
    from assistant.copystudio.service import CopyInputError, CopyService

    service = CopyService.for_shop(shop)
    shop.index.products.warm_up()
    catalogue = shop.index.products.products
    choices = [
        (f"{p.title} ({pid})", pid) for pid, p in sorted(catalogue.items(), key=lambda kv: kv[1].title)
    ]
    customers = [(NOBODY, "")] + [(f"{c.name} ({c.id})", c.id) for c in shop.orders.customers()]
    categories = [ALL, *sorted({p.category for p in catalogue.values() if p.category})]
    s = shop.settings.copywriter

    def generate(
        product_id: str, tone: str, length: str, form: str, audience: str, language: str, customer: str
    ) -> tuple[str, str]:
        if not product_id:
            raise gr.Error("Pick a product first.")
        try:
            controls = CopyControls(
                tone=tone,  # type: ignore[arg-type]
                length=length,  # type: ignore[arg-type]
                form=form,  # type: ignore[arg-type]
                audience=(audience or "").strip(),
                language=(language or "en").strip().lower(),
                customer_id=customer or None,
            )
            result = service.run(CopyRequest(product_id=product_id, controls=controls))
        except (CopyInputError, ValueError) as exc:
            raise gr.Error(str(exc)) from exc
        return render_copy(result), render_report(result)

    track = gr.Progress(track_tqdm=True)  # Gradio reads the batch's tqdm bar through this default

    def batch(
        category: str, tone: str, length: str, form: str, progress: Any = track
    ) -> tuple[str | None, str]:
        chosen = select_products(catalogue, category=None if category == ALL else category)
        if not chosen:
            raise gr.Error("That category has no products.")
        controls = CopyControls(tone=tone, length=length, form=form)  # type: ignore[arg-type]
        name = "all" if category == ALL else "".join(ch if ch.isalnum() else "-" for ch in category.lower())
        folder = shop.settings.home / "copy-batches"
        folder.mkdir(parents=True, exist_ok=True)
        out = folder / f"copy-{name}-{tone}-{length}-{form}.csv"  # kept, so a rerun skips what is done
        report = CopyBatch(service, out, controls=controls).run(chosen, progress=True)
        download = Path(tempfile.mkdtemp(prefix="shopassist-copy-")) / out.name
        shutil.copyfile(out, download)
        status = (
            f"{len(chosen)} products: {report.written} written, {report.skipped} unchanged since the last "
            f"run; outcomes {report.sources or '-'}"
        )
        return str(download), status

    with gr.Row():
        with gr.Column(scale=2):
            product = gr.Dropdown(
                choices,
                value=choices[0][1] if choices else None,
                label="Product",
                filterable=True,
                elem_id="copy-product",
            )
            tone = gr.Radio(list(TONES), value=s.default_tone, label="Tone", elem_id="copy-tone")
            length = gr.Radio(list(LENGTHS), value=s.default_length, label="Length", elem_id="copy-length")
            form = gr.Radio(list(FORMS), value=s.default_form, label="Form", elem_id="copy-form")
            audience = gr.Textbox(
                label="Audience", placeholder="e.g. weekend hikers", elem_id="copy-audience"
            )
            language = gr.Dropdown(
                LANGUAGES, value="en", label="Language", allow_custom_value=True, elem_id="copy-language"
            )
            customer = gr.Dropdown(customers, value="", label="Personalize for", elem_id="copy-customer")
            go = gr.Button("Generate", variant="primary", elem_id="copy-generate")
        with gr.Column(scale=3):
            output = gr.HTML(render_copy(None), elem_id="copy-output")
            report = gr.HTML(render_report(None), elem_id="copy-report")
    with gr.Accordion("Batch: a whole category to CSV", open=False, elem_id="copy-batch-panel"):
        with gr.Row():
            category = gr.Dropdown(categories, value=ALL, label="Category", elem_id="copy-batch-category")
            run_batch = gr.Button("Write the batch", elem_id="copy-batch-run")
        status = gr.Markdown(elem_id="copy-batch-status")
        download = gr.File(label="Download", elem_id="copy-batch-file")
    go.click(generate, [product, tone, length, form, audience, language, customer], [output, report])
    run_batch.click(batch, [category, tone, length, form], [download, status])
