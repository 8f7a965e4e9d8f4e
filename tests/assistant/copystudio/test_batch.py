"""Batch copy: filters, JSONL and CSV output, resume after a kill (rows in flight are redone, a torn
last line is cut away), unchanged products skipped, changed ones redone."""

import json

import pytest

from assistant.copystudio.batch import BatchError, CopyBatch, check_out_path, read_rows, select_products
from assistant.copystudio.protocol import CopyControls
from assistant.copystudio.service import CopyInputError, CopyService
from assistant.generation.fake import FakeGenerator

DRAFT = "A dependable pick from our shelves, chosen for everyday use and easy care at home or away."


class Killed(RuntimeError):
    pass


@pytest.fixture
def service(demo_products):
    return CopyService(FakeGenerator(default=DRAFT), dict(demo_products), model_id="fake")


@pytest.fixture
def footwear(demo_products):
    return select_products(demo_products, category="Footwear")


def kill_after(n):
    seen = []

    def hook(result):
        seen.append(result.product_id)
        if len(seen) == n:
            raise Killed(f"killed after {n}")

    return hook


def test_filters_combine_and_unknown_ids_are_an_error(demo_products):
    assert {p.category for p in select_products(demo_products, category="FOOTWEAR")} == {"footwear"}
    tidewalk = select_products(demo_products, category="footwear", brand="tidewalk")
    assert tidewalk and all(p.brand == "Tidewalk" for p in tidewalk)
    assert [p.id for p in select_products(demo_products, ids=["HP-1002", "HP-1001"])] == [
        "HP-1002",
        "HP-1001",
    ]
    with pytest.raises(CopyInputError, match="unknown product id"):
        select_products(demo_products, ids=["HP-1001", "NOPE"])


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_batch_writes_one_checked_row_per_product(service, footwear, tmp_path, suffix):
    out = tmp_path / f"copy{suffix}"
    report = CopyBatch(service, out, controls=CopyControls(form="bullets")).run(
        footwear, progress=False, workers=3
    )
    rows = read_rows(out)
    assert report.written == len(footwear) == len(rows) and report.skipped == 0
    assert sorted(r["product_id"] for r in rows) == sorted(p.id for p in footwear)
    assert all(r["form"] == "bullets" and r["unsupported"] in ([], "") for r in rows)
    assert sum(report.sources.values()) == len(footwear)


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_a_killed_batch_resumes_without_redoing_finished_rows(service, footwear, tmp_path, suffix):
    out = tmp_path / f"copy{suffix}"
    with pytest.raises(Killed):
        CopyBatch(service, out).run(footwear, progress=False, workers=2, on_result=kill_after(7))
    done = read_rows(out)
    assert 7 <= len(done) < len(footwear)
    # the kill also tore a row mid-write and a state line mid-write
    with out.open("ab") as fh:
        fh.write(b'{"product_id": "HP-10' if suffix == ".jsonl" else b'HP-1099,"half a row')
    with (tmp_path / f"copy{suffix}.state").open("a") as fh:
        fh.write('{"id": "HP-1099", "key": "x", "sta')
    service.generator.requests.clear()
    report = CopyBatch(service, out).run(footwear, progress=False, workers=2)
    rows = read_rows(out)
    assert report.skipped == len(done) and report.written == len(footwear) - len(done)
    assert sorted(r["product_id"] for r in rows) == sorted(p.id for p in footwear)  # each once, none torn
    redone = {r.messages[-1].content.split("- Title: ")[1].split("\n")[0] for r in service.generator.requests}
    assert redone.isdisjoint({r["title"] for r in done})


def test_a_rerun_skips_unchanged_products_and_redoes_changed_ones(service, demo_products, footwear, tmp_path):
    out = tmp_path / "copy.jsonl"
    CopyBatch(service, out).run(footwear, progress=False)
    first = {r["product_id"]: r for r in read_rows(out)}
    again = CopyBatch(service, out).run(footwear, progress=False)
    assert again.skipped == len(footwear) and again.written == 0
    changed = footwear[0].model_copy(update={"color": "forest green"})
    service.products[changed.id] = changed
    report = CopyBatch(service, out).run([changed, *footwear[1:]], progress=False)
    rows = {r["product_id"]: r for r in read_rows(out)}
    assert report.written == 1 and report.skipped == len(footwear) - 1
    assert len(rows) == len(first)  # the old row was replaced, not duplicated
    assert "forest green" in rows[changed.id]["text"] and "forest green" not in first[changed.id]["text"]
    other_controls = CopyBatch(service, out, controls=CopyControls(tone="technical")).run(
        footwear[:2], progress=False
    )
    assert other_controls.written == 2  # the controls are part of each row's key


def test_bad_outputs_are_refused_with_what_to_do(tmp_path):
    with pytest.raises(BatchError, match="must end in .jsonl or .csv"):
        check_out_path(tmp_path / "copy.txt")
    with pytest.raises(BatchError, match="does not exist"):
        check_out_path(tmp_path / "missing" / "copy.csv")
    stranger = tmp_path / "mine.jsonl"
    stranger.write_text(json.dumps({"not": "a batch"}) + "\n")
    with pytest.raises(BatchError, match="no state file"):
        CopyBatch(CopyService(FakeGenerator(), {}), stranger).run([], progress=False)
