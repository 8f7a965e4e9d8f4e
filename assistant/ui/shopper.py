"""The shopper-facing Gradio app: streaming chat, product cards, filters, signed-in customer.

It is a thin view over `Shop.chat` (the same service the CLI and API use): it turns UI controls
into a `ChatRequest` and stream events into chat text and cards. Card HTML is built from data with
every value escaped, so catalogue text can never inject markup.
"""

from __future__ import annotations

import html
from collections.abc import Iterator
from typing import Any

from assistant.chat.followup import ConversationState
from assistant.chat.protocol import ChatRequest, ProductCard
from assistant.chat.service import InputError
from assistant.shop import Shop
from retrieval.filters import Filters

ANY = "(any)"
GUEST = "guest (not signed in)"

CSS = """
#product-cards .cards {display:grid; grid-template-columns:repeat(auto-fill,minmax(210px,1fr)); gap:10px;}
#product-cards .card {border:1px solid #d0d7de; border-radius:10px; padding:10px; background:#fff;}
#product-cards .card .title {font-weight:600; margin-bottom:4px;}
#product-cards .card .price {font-size:1.1em; color:#0b6e4f; font-weight:600;}
#product-cards .card .meta {font-size:0.85em; color:#555;}
#product-cards .card .pid {font-size:0.75em; color:#888; font-family:monospace;}
#product-cards .card .oos {color:#b42318; font-size:0.85em;}
"""


def app_css() -> str:
    """The chat's styles plus those of the other tabs (each keeps its own next to its code)."""
    from assistant.ui.assist_tab import CSS as ASSIST_CSS
    from assistant.ui.copy_tab import CSS as COPY_CSS

    return CSS + COPY_CSS + ASSIST_CSS


def render_cards(cards: list[ProductCard]) -> str:
    if not cards:
        return "<div class='cards-empty'>Products the assistant finds appear here.</div>"
    items = []
    for c in cards:
        meta = " · ".join(html.escape(x) for x in (c.brand, c.category, c.color, c.size, c.material) if x)
        rating = f" · ★ {c.rating:g}" if c.rating is not None else ""
        stock = "" if c.in_stock else "<div class='oos'>out of stock</div>"
        items.append(
            f"<div class='card' data-product-id='{html.escape(c.id)}'>"
            f"<div class='title'>{html.escape(c.title)}</div>"
            f"<div class='price'>{html.escape(c.price_text())}</div>"
            f"<div class='meta'>{meta}{rating}</div>{stock}"
            f"<div class='pid'>{html.escape(c.id)}</div></div>"
        )
    return "<div class='cards'>" + "".join(items) + "</div>"


def build_ui(shop: Shop) -> Any:
    import gradio as gr

    from assistant.ui.assist_tab import build_tab as assist_tab
    from assistant.ui.copy_tab import build_tab as copy_tab

    shop.index.products.warm_up()
    schema = shop.index.products.schema
    customers = {f"{c.name} ({c.id})": c.id for c in shop.orders.customers()}

    def respond(
        message: str,
        history: list[dict[str, Any]],
        customer: str,
        max_price: float | None,
        category: str,
        brand: str,
        in_stock: bool,
        state: dict[str, Any] | None,
    ) -> Iterator[tuple[list[dict[str, Any]], str, str, dict[str, Any] | None]]:
        history = list(history or [])
        filters = Filters(
            price_max=float(max_price) if max_price else None,
            categories=[] if category in (ANY, None, "") else [category],
            brands=[] if brand in (ANY, None, "") else [brand],
            in_stock=bool(in_stock),
        )
        history.append({"role": "user", "content": message})
        history.append({"role": "assistant", "content": ""})
        cards_html = render_cards([])
        try:
            request = ChatRequest(
                message=message,
                customer_id=customers.get(customer),
                filters=filters,
                state=ConversationState.model_validate(state) if state else None,
            )
            for event in shop.chat.stream(request):
                if event.type == "products":
                    cards_html = render_cards(event.products)
                elif event.type == "delta":
                    history[-1]["content"] += event.delta
                elif event.type == "done" and event.response is not None:
                    resp = event.response
                    history[-1]["content"] = resp.text
                    if resp.action == "handoff":
                        history[-1]["content"] += "\n\n*(handed over to the shop team)*"
                    state = resp.state.model_dump(mode="json")
                yield history, cards_html, "", state
        except InputError as exc:
            history[-1]["content"] = f"⚠️ {exc}"
            yield history, cards_html, "", state

    with gr.Blocks(title=f"{shop.settings.shop.name} assistant") as demo:
        gr.Markdown(
            f"## {html.escape(shop.settings.shop.name)} shopping assistant\n"
            "Answers come from the shop's catalogue and policies, with their sources in brackets."
        )
        with gr.Tab("Chat", elem_id="tab-chat"):
            with gr.Row():
                with gr.Column(scale=3):
                    chatbot = gr.Chatbot(elem_id="chat", height=460, label="Chat")
                    with gr.Row():
                        box = gr.Textbox(
                            elem_id="message",
                            show_label=False,
                            scale=5,
                            placeholder="Ask about products, shipping, returns or your orders…",
                        )
                        send = gr.Button("Send", elem_id="send", variant="primary", scale=1)
                with gr.Column(scale=2):
                    customer = gr.Dropdown(
                        [GUEST, *customers], value=GUEST, label="Signed in as", elem_id="customer"
                    )
                    with gr.Accordion("Filters", open=False):
                        max_price = gr.Number(
                            label="Max price (USD)", value=None, minimum=0, elem_id="max-price"
                        )
                        category = gr.Dropdown(
                            [ANY, *sorted(schema.categories.values())], value=ANY, label="Category"
                        )
                        brand = gr.Dropdown([ANY, *sorted(schema.brands.values())], value=ANY, label="Brand")
                        in_stock = gr.Checkbox(label="In stock only", value=False)
                    cards = gr.HTML(render_cards([]), elem_id="product-cards")
            conversation = gr.State(None)  # the last response's state: what "the second one" refers to
            inputs = [box, chatbot, customer, max_price, category, brand, in_stock, conversation]
            outputs = [chatbot, cards, box, conversation]
            box.submit(respond, inputs, outputs)
            send.click(respond, inputs, outputs)
        with gr.Tab("Product copy", elem_id="tab-copy"):
            copy_tab(shop)
        with gr.Tab("Agent assist", elem_id="tab-assist"):
            assist_tab(shop)
    return demo


def launch_ui(shop: Shop, host: str, port: int) -> None:
    demo = build_ui(shop)
    demo.queue(default_concurrency_limit=8).launch(
        server_name=host, server_port=port, show_error=True, css=app_css()
    )
