"""`shopassist eval languages` (issue 21): one table and one JSON with the Chinese demo-shop and
cross-language numbers per embedding model (a hashing embedding here: the numbers are the real
models' job in the benchmark, this checks the command wiring)."""

import importlib.util
import json

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli
from tests.conftest import REPO, HashEmbedding

pytestmark = pytest.mark.skipif(importlib.util.find_spec("jieba") is None, reason="jieba is not installed")


def test_eval_languages_reports_chinese_and_cross_language_numbers(cli_env, monkeypatch):
    import assistant.shop

    monkeypatch.setattr(
        assistant.shop, "embedding_function", lambda settings, cache=True, faq=False: HashEmbedding()
    )
    faq = cli_env / "faq.csv"
    faq.write_text(
        "intent,category,answer\n"
        "cancel_order,ORDER,You can cancel an order in your order history before it ships.\n"
        "track_order,ORDER,Track your order status with the tracking number in your account.\n"
    )
    xlang = cli_env / "xlang.csv"
    xlang.write_text(
        "id,intent,en,zh,de\n"
        "x1,cancel_order,cancel my order please,请帮我取消订单,Bitte meine Bestellung stornieren\n"
        "x2,track_order,where is my order status,我的订单状态是什么,Wie ist der Status meiner Bestellung\n"
    )
    args = ["eval", "languages", "--embedding", "minilm", "--zh-dir", str(REPO / "tests" / "data" / "zh")]
    result = CliRunner().invoke(
        cli, [*args, "--xlang", str(xlang), "--bitext-faq", str(faq), "--json", "out.json"]
    )
    assert result.exit_code == 0, result.output
    assert "zh hybrid ndcg@10" in result.output and "de/en" in result.output
    report = json.loads((cli_env / "out.json").read_text())["models"]["minilm"]
    search = report["zh_search"]
    assert search["queries"] >= 50 and set(search["modes"]) == {"lexical", "dense", "hybrid"}
    assert search["modes"]["lexical"]["ndcg@10"] > 0.8  # jieba BM25 alone finds the Chinese products
    assert report["zh_faq"]["questions"] >= 100
    cross = report["cross_language"]
    assert set(cross["languages"]) == {"en", "zh", "de"} and cross["ratio_to_reference"]["en"]["dense"] == 1.0

    missing = CliRunner().invoke(cli, [*args, "--xlang", str(xlang), "--bitext-faq", "nope.csv"])
    assert missing.exit_code == 0 and "cross-language routing skipped" in missing.output
    bad = CliRunner().invoke(cli, [*args, "--xlang", str(xlang), "--embedding", "labse"])
    assert bad.exit_code != 0 and "unknown model 'labse'" in bad.output
