"""The operator console (Gradio): product copy, agent assist and insights, apart from the shopper app.

Operators name customers here (a ticket's customer, a profile to personalize copy for), so the
console is only reachable with an operator credential: mounted with Gradio's login (the password
is an API key with role 'agent' or 'admin'), or, with no keys configured, from this machine only.
"""

from __future__ import annotations

from typing import Any

from assistant.shop import Shop


def console_css() -> str:
    from assistant.ui.assist_tab import CSS as ASSIST_CSS
    from assistant.ui.copy_tab import CSS as COPY_CSS

    return COPY_CSS + ASSIST_CSS


def build_console(shop: Shop) -> Any:
    import gradio as gr

    from assistant.ui.assist_tab import build_tab as assist_tab
    from assistant.ui.copy_tab import build_tab as copy_tab
    from assistant.ui.insights_tab import build_tab as insights_tab

    with gr.Blocks(title=f"{shop.settings.shop.name} operator console") as app:
        gr.Markdown(f"## {shop.settings.shop.name}: operator console")
        with gr.Tab("Product copy", elem_id="tab-copy"):
            copy_tab(shop)
        with gr.Tab("Agent assist", elem_id="tab-assist"):
            assist_tab(shop)
        with gr.Tab("Insights", elem_id="tab-insights"):
            insights_tab(shop)
    return app
