"""Commerce exports (retrieval.formats): each sample file, written after its format's public
documentation, loads with the right products, variants, prices, currencies and report lines; and
the demo shop survives a trip through each format with the same search results."""

from pathlib import Path

import pytest

from retrieval.catalog import CatalogError, load_products
from retrieval.content import ContentPolicy
from retrieval.formats import detect_format, export_products, html_to_text, parse_price
from retrieval.schema import Product

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "catalogs"


def by_id(products: list[Product]) -> dict[str, Product]:
    return {p.id: p for p in products}


def test_hash_and_search_text_of_a_product_without_the_new_fields_are_unchanged():
    """Hashes written by stores before url, image_url and variants existed must still match, or
    every stored catalogue would be embedded again on its next ingest."""
    boot = Product(
        id="HP-1001",
        title="Ridgeline Waterproof Hiking Boot",
        description="A boot.",
        brand="Ridgeback Trail Co.",
        category="footwear",
        price=149.99,
        currency="USD",
        color="brown",
        size="US 7-13",
        material="full-grain leather",
        rating=4.7,
        stock=64,
        tags=["waterproof", "boots"],
    )
    assert boot.content_hash() == "3fd8585e86ab5b9c"  # computed before the fields were added
    assert Product(id="A1", title="Camp mug").content_hash() == "2fc77b132030b526"
    assert boot.search_text() == (
        "Ridgeline Waterproof Hiking Boot | Ridgeback Trail Co. | footwear | brown | full-grain leather"
        " | waterproof boots. A boot."
    )
    with_image = boot.model_copy(update={"image_url": "https://cdn.example.com/boot.jpg"})
    assert with_image.content_hash() != boot.content_hash()
    assert with_image.search_text() == boot.search_text()


def test_variants_and_links_survive_the_store_metadata():
    product = load_products(SAMPLES / "shopify.csv", format="shopify").items[0]
    assert len(product.variants) == 3
    assert Product.from_metadata(product.id, product.metadata()) == product
    plain = Product(id="A1", title="Camp mug", price=3)
    assert Product.from_metadata("A1", plain.metadata()) == plain


def test_only_web_links_and_site_paths_are_stored(tmp_path):
    path = tmp_path / "p.csv"
    path.write_text(
        "id,title,price,url,image_url\n"
        "A1,Mug,3,https://shop.example.com/mug,https://cdn.example.com/mug.jpg\n"
        "A2,Cup,3,javascript:alert(1),\n"
        "A3,Bowl,3,/p/bowl,/static/bowl.svg\n"
        "A4,Plate,3,//evil.example/plate,\n"
    )
    result = load_products(path)
    assert [p.url for p in result.items] == ["https://shop.example.com/mug", "/p/bowl"]
    assert result.items[1].image_url == "/static/bowl.svg"  # a path on the shop's site (or the API's)
    assert [(e.row, e.field) for e in result.errors] == [(3, "url"), (5, "url")]


def test_shopify_export_groups_variants_and_reports_bad_rows():
    result = load_products(SAMPLES / "shopify.csv", format="shopify", content=ContentPolicy())
    products = by_id(result.items)
    assert sorted(products) == ["camp-mug", "rain-shell", "trail-tee"]
    tee = products["trail-tee"]
    assert [(v.id, v.color, v.size, v.price, v.stock) for v in tee.variants] == [
        ("TT-BLU-S", "Blue", "S", 25.0, 5),
        ("TT-BLU-M", "Blue", "M", 25.0, 0),
        ("TT-RED-M", "Red", "M", 27.0, 3),
    ]  # TT-RED-L has no valid price, so Large is not offered
    assert (tee.price, tee.currency, tee.color, tee.size, tee.stock) == (25.0, "USD", "Blue, Red", "S, M", 8)
    assert tee.description == "A soft merino tee & travel favourite.\nOdour resistant\nQuick dry"
    assert tee.image_url.endswith("/trail-tee.jpg") and tee.category == "T-Shirts"
    assert products["camp-mug"].stock == 0 and not products["camp-mug"].in_stock
    shell = products["rain-shell"]
    assert shell.stock is None and shell.size == "M" and shell.category == "Coats & Jackets"
    assert shell.description == "Packable rain shell.\nTaped seams."  # the script went with its tags
    assert result.findings == []  # converted HTML is not withheld as markup
    report = result.report().splitlines()
    assert report[0] == "shopify.csv: 3 valid products, 2 rows skipped"
    assert "  9 rows read as 3 products (3 variants grouped)" in report
    assert "  left out 1 draft or archived product(s) (not for sale): row(s) 9" in report
    assert "  row 6: price: 'twenty' is not a price like 15.00 or 15.00 USD" in report
    assert "  row 10: stock: 'lots' is not a stock count" in report


def test_woocommerce_export_reads_variations_sale_prices_and_stock_status():
    result = load_products(SAMPLES / "woocommerce.csv", format="woocommerce")
    products = by_id(result.items)
    assert sorted(products) == ["BOTTLE", "HOODIE", "SOCKS"]
    hoodie = products["HOODIE"]
    # Blue S is on sale until 2099; Green M's sale ended in 2019, so it costs the regular price.
    assert [(v.id, v.price, v.stock) for v in hoodie.variants] == [
        ("HOODIE-BLUE-S", 49.0, 4),
        ("HOODIE-GREEN-M", 59.0, 0),
    ]
    assert (hoodie.price, hoodie.color, hoodie.size, hoodie.material) == (
        49.0,
        "Blue, Green",
        "S, M",
        "Organic cotton",
    )
    assert (hoodie.brand, hoodie.category, hoodie.stock) == ("Loam & Loom", "Hoodies", 4)
    assert hoodie.description == "Heavyweight organic cotton hoodie.\nBrushed inside & out."
    assert hoodie.image_url == "https://shop.example.com/wp-content/uploads/hoodie.jpg"
    bottle = products["BOTTLE"]
    assert (bottle.price, bottle.stock, bottle.in_stock) == (19.95, 0, False)  # "19,95": a decimal comma
    assert products["SOCKS"].color == "Black, Grey" and products["SOCKS"].stock is None
    report = result.report()
    assert report.startswith("woocommerce.csv: 3 valid products, 2 rows skipped")
    assert "row 5: price: 'fifty-nine' is not a price" in report
    assert "row 8: parent: 'NOPE' is not a product in this file" in report
    assert "left out 1 draft or private product(s) (not for sale): row(s) 7" in report
    assert "left out 1 grouped product(s) (not for sale): row(s) 9" in report


def test_google_merchant_feed_reads_currencies_availability_and_item_groups():
    result = load_products(SAMPLES / "google_merchant.csv", format="google-merchant")
    products = by_id(result.items)
    assert sorted(products) == ["LAMP-1", "SR-RUN", "TENT-2"]
    runner = products["SR-RUN"]
    assert runner.title == "Summit Runner"  # no colour or size that only one item has
    assert [(v.id, v.color, v.size, v.price, v.stock) for v in runner.variants] == [
        ("SR-RED-9", "Red", "9", 99.0, None),
        ("SR-BLK-10", "Black", "10", 120.0, 0),
    ]
    assert (runner.price, runner.currency, runner.stock, runner.in_stock) == (99.0, "USD", None, True)
    assert runner.url == "https://shop.example.com/products/summit-runner?variant=red-9"
    assert runner.tags == ["running"] and runner.category == "Running shoes"
    tent = products["TENT-2"]
    assert (tent.stock, tent.description, tent.tags) == (
        0,
        "Two-person tent & footprint.",
        ["camping", "tents"],
    )
    assert (products["LAMP-1"].price, products["LAMP-1"].currency) == (15.0, "EUR")
    report = result.report()
    assert report.startswith("google_merchant.csv: 3 valid products, 3 rows skipped")
    assert "row 4: price: in EUR; the product's other variants are in USD" in report
    assert "row 6: price: 'twelve dollars' is not a price" in report
    assert "row 8: availability: 'sometimes' is not one of" in report
    assert "prices of" not in report  # every price named its currency


def test_auto_detects_the_format_from_the_header_and_says_so(tmp_path):
    for name, label in (
        ("shopify", "Shopify product CSV"),
        ("woocommerce", "WooCommerce product CSV"),
        ("google_merchant", "Google Merchant Center feed"),
    ):
        result = load_products(SAMPLES / f"{name}.csv", format="auto")
        assert f"  format: {label} (detected from the header)" in result.report().splitlines()
    from assistant.shop import demo_shop_dir

    demo = load_products(demo_shop_dir() / "products.csv", format="auto")
    assert demo.errors == [] and "read as generic" in demo.report()
    lines = tmp_path / "p.jsonl"
    lines.write_text('{"id": "A1", "title": "Mug", "price": 3}\n')
    assert [p.id for p in load_products(lines, format="auto").items] == ["A1"]
    assert detect_format(["Title", "URL handle", "Price"]) == "shopify"  # the renamed template
    assert detect_format(["ID", "Type", "SKU", "Name", "Regular price"]) == "woocommerce"
    assert detect_format(["g:id", "Title", "Price", "Availability", "Image link"]) == "google-merchant"


def test_the_store_currency_comes_with_the_format_and_a_wrong_format_says_what_is_missing():
    eur = load_products(SAMPLES / "shopify.csv", format="shopify:EUR")
    assert {p.currency for p in eur.items} == {"EUR"}
    assert "prices of 3 product(s) read as EUR" in eur.report() and "e.g. shopify:EUR" not in eur.report()
    with pytest.raises(
        CatalogError, match="google_merchant.csv is not a Shopify product CSV: it has no column 'Handle'"
    ):
        load_products(SAMPLES / "google_merchant.csv", format="shopify")
    with pytest.raises(CatalogError, match="unknown catalogue format 'magento'"):
        load_products(SAMPLES / "shopify.csv", format="magento")
    with pytest.raises(CatalogError, match="mapping applies to the generic format only"):
        load_products(SAMPLES / "shopify.csv", {"id": "Handle"}, format="shopify")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("15.00 USD", (15.0, "USD")),
        ("USD 15.00", (15.0, "USD")),
        ("15.00usd", (15.0, "USD")),
        ("€15,00", (15.0, "EUR")),
        ("15,00 €", (15.0, "EUR")),
        ("1.299,50 EUR", (1299.5, "EUR")),
        ("1,299.50", (1299.5, None)),
        ("1 299", (1299.0, None)),
        ("£7", (7.0, "GBP")),
        ("$7.5", (7.5, "USD")),
        ("12", (12.0, None)),
    ],
)
def test_prices_are_read_as_a_shopper_reads_them(text, expected):
    assert parse_price(text, None) == expected


@pytest.mark.parametrize("text", ["", "free", "-5", "USD 15 EUR", "15.00.00,0,0x"])
def test_a_malformed_price_is_refused(text):
    with pytest.raises(ValueError, match="price|currencies"):
        parse_price(text, None)


def test_html_becomes_text_but_escaped_markup_is_still_flagged():
    assert (
        html_to_text("<h2>Care</h2><p>Wash  cold<br/>Dry flat</p><style>p{}</style>")
        == "Care\nWash cold\nDry flat"
    )
    text = html_to_text("<p>Nice &lt;script&gt;alert(1)&lt;/script&gt;</p>")
    assert text == "Nice <script>alert(1)</script>"
    from retrieval.content import scan

    assert [f.kind for f in scan(text)] == ["html"]


def test_demo_shop_round_trips_through_each_format(tmp_path):
    """Exported and read back, the demo shop is the same catalogue (but for what a format cannot
    hold) and answers the same queries with the same products: hybrid search (what shoppers get)
    and lexical search, over an embedding without ties (one random vector per distinct text)."""
    from assistant.shop import demo_shop_dir
    from retrieval.index import ShopIndex
    from retrieval.store import open_client
    from tests.conftest import TextEmbedding

    original = load_products(demo_shop_dir() / "products.csv").items
    queries = [
        "waterproof hiking boots",
        "warm jacket under $150",
        "coffee grinder",
        "red backpack",
        "yoga mat",
        "tent for two people",
        "leather bag in stock",
        "gift for a runner",
    ]

    def rankings(products: list[Product], name: str) -> list[tuple[list[str], list[str]]]:
        index = ShopIndex(open_client(tmp_path / name), TextEmbedding())
        index.ingest_products(products)
        return [
            (
                [h.product.id for h in index.products.run(query, top_k=5, mode="lexical").hits],
                [h.product.id for h in index.products.run(query, top_k=5).hits],
            )
            for query in queries
        ]

    expected = rankings(original, "original")
    assert all(lexical and len(hybrid) == 5 for lexical, hybrid in expected)
    kept = [
        "id",
        "title",
        "description",
        "brand",
        "category",
        "price",
        "currency",
        "color",
        "size",
        "material",
    ]
    kept += ["tags", "image_url", "variants"]
    for fmt in ("shopify", "woocommerce", "google-merchant"):
        path = export_products(original, fmt, tmp_path / f"{fmt}.csv")
        result = load_products(path, format="auto")
        assert result.errors == [] and len(result.items) == len(original), result.report()
        for before, after in zip(original, result.items, strict=True):
            assert before.model_dump(include=set(kept)) == after.model_dump(include=set(kept)), fmt
            assert before.search_text() == after.search_text() and before.in_stock == after.in_stock
            assert after.stock == (
                before.stock if fmt != "google-merchant" else (None if before.in_stock else 0)
            )
        got = rankings(result.items, fmt)
        for query, (lexical, hybrid), (lexical_back, hybrid_back) in zip(queries, expected, got, strict=True):
            assert lexical_back == lexical, (fmt, query)
            assert hybrid_back == hybrid, (fmt, query, hybrid, hybrid_back)


def test_grouped_products_round_trip_and_a_feed_can_be_tab_separated(tmp_path):
    grouped = load_products(SAMPLES / "woocommerce.csv", format="woocommerce").items
    for fmt, name in (("shopify", "s.csv"), ("woocommerce", "w.csv"), ("google-merchant", "g.tsv")):
        back = load_products(export_products(grouped, fmt, tmp_path / name), format="auto")
        assert back.errors == [], back.report()
        assert [(p.id, p.price, p.color, p.size) for p in back.items] == [
            (p.id, p.price, p.color, p.size) for p in grouped
        ]
        assert [len(p.variants) for p in back.items] == [2, 0, 0]
