"""The benchmark commands' plumbing on the scripted engine (the numbers themselves are not tested)."""

import json

from click.testing import CliRunner

from assistant.cli.main import cli
from assistant.generation.bench import compare_engines
from assistant.generation.fake import FakeGenerator


def test_engines_side_by_side_with_a_ratio_to_the_first():
    runs = [("a", FakeGenerator(default="one two three four"), None), ("b", FakeGenerator(), "cs-x")]
    rows = compare_engines(runs, [1, 2], max_new_tokens=8)
    assert [(r["engine"], r["concurrency"]) for r in rows] == [("a", 1), ("a", 2), ("b", 1), ("b", 2)]
    assert all(r["ratio_vs_first_engine"] == 1.0 for r in rows if r["engine"] == "a")
    assert all(r["ratio_vs_first_engine"] is not None for r in rows)
    assert {req.adapter for req in runs[1][1].requests} == {"cs-x"}
    assert {req.adapter for req in runs[0][1].requests} == {None}


def test_bench_generate_cli_parses_engine_specs(settings, tmp_path):
    out = tmp_path / "r.json"
    env = {"SHOPASSIST_HOME": str(settings.home)}
    result = CliRunner().invoke(
        cli,
        ["bench", "generate", "--engine", "fake,fake:cs-1", "--concurrency", "1,2", "--json", str(out)],
        env=env,
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert [r["engine"] for r in data["results"]] == ["fake", "fake", "fake:cs-1", "fake:cs-1"]
    bad = CliRunner().invoke(cli, ["bench", "generate", "--engine", "nope"], env=env)
    assert bad.exit_code != 0 and "unknown generator engine 'nope'" in bad.output
