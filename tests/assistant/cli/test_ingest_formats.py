"""`shopassist ingest --format`: a commerce export goes in through the same report and exit codes."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "catalogs"


@pytest.fixture
def env(cli_env, monkeypatch):
    import assistant.shop
    from tests.conftest import HashEmbedding

    monkeypatch.setattr(
        assistant.shop, "embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    faq = cli_env / "faq.csv"
    faq.write_text("id,category,question,answer,examples\nf1,returns,Can I return?,Yes within 30 days.,\n")
    return faq


def test_ingest_a_shopify_export(env):
    result = CliRunner().invoke(
        cli, ["ingest", str(SAMPLES / "shopify.csv"), "--format", "shopify", "--faq", str(env)]
    )
    assert result.exit_code == 65, result.output  # the good products are stored; two rows were not
    assert "shopify.csv: 3 valid products, 2 rows skipped" in result.output
    assert "row 6: price: 'twenty' is not a price" in result.output
    assert "store now holds 3 products" in result.output


def test_auto_names_the_format_it_chose_and_a_bad_format_stores_nothing(env):
    runner = CliRunner()
    result = runner.invoke(
        cli, ["ingest", str(SAMPLES / "google_merchant.csv"), "--format", "auto", "--faq", str(env)]
    )
    assert result.exit_code == 65, result.output
    assert "format: Google Merchant Center feed (detected from the header)" in result.output
    result = runner.invoke(
        cli, ["ingest", str(SAMPLES / "shopify.csv"), "--format", "magento", "--faq", str(env)]
    )
    assert result.exit_code == 1
    assert (
        "unknown catalogue format 'magento'" in result.output
        and "Nothing stored was changed" in result.output
    )
