"""Batch copy: filters, JSONL and CSV output, resume after a kill (rows in flight are redone, a torn
last line is cut away), unchanged products skipped, changed ones redone; at catalogue scale, a model
server kept busy with `server_concurrency` products, and rows the model could not write redone."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from assistant.config import CopySettings
from assistant.copystudio.batch import (
    COLUMNS,
    BatchError,
    CopyBatch,
    check_out_path,
    read_rows,
    select_products,
)
from assistant.copystudio.protocol import CopyControls
from assistant.copystudio.service import CopyInputError, CopyService
from assistant.generation.base import GeneratorError
from assistant.generation.fake import FakeGenerator
from tests.helpers import free_port

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


# -- catalogue scale: a model server, concurrency, rows the model could not write ------------------
class Server(FakeGenerator):
    """A model server's stand-in: answers after a pause and counts the requests in flight."""

    name = "vllm"

    def __init__(self, default=DRAFT, delay=0.03):
        super().__init__(default=default)
        self.delay = delay
        self.in_flight = self.peak = 0
        self._lock = threading.Lock()

    def stream(self, request):
        with self._lock:
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
        try:
            time.sleep(self.delay)
            yield from super().stream(request)
        finally:
            with self._lock:
                self.in_flight -= 1


def test_a_server_gets_server_concurrency_products_at_once(demo_products, tmp_path):
    server = Server()
    settings = CopySettings(server_concurrency=5, workers=2, candidates=1)
    service = CopyService(server, dict(demo_products), settings=settings, model_id="vllm:m", engine="vllm")
    assert service.remote and service.concurrency() == 5
    products = list(demo_products.values())[:30]
    report = CopyBatch(service, tmp_path / "copy.jsonl").run(products, progress=False)
    assert report.workers == 5 and server.peak == 5  # never more: the state stays bounded
    assert report.written == 30 and sorted(
        r["product_id"] for r in read_rows(tmp_path / "copy.jsonl")
    ) == sorted(p.id for p in products)
    # the embedded engine (or one not named) keeps `workers` in flight; an explicit count wins
    local = CopyService(Server(), dict(demo_products), settings=settings, engine="embedded")
    assert not local.remote and local.concurrency() == 2
    unnamed = CopyService(Server(), dict(demo_products), settings=settings)
    assert unnamed.remote  # known from the built generator's name
    assert CopyBatch(local, tmp_path / "b.jsonl").run(products[:4], progress=False, workers=3).workers == 3


class StubServer:
    """A tiny OpenAI-compatible server over real HTTP: each completion streams DRAFT after a pause;
    it records the bodies and the most requests it had open at once."""

    def __init__(self, delay: float = 0.1) -> None:
        self.bodies: list[dict] = []
        self.in_flight = self.peak = 0
        lock = threading.Lock()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with lock:
                    owner.bodies.append(body)
                    owner.in_flight += 1
                    owner.peak = max(owner.peak, owner.in_flight)
                try:
                    time.sleep(delay)
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Connection", "close")
                    self.end_headers()
                    for word in DRAFT.split(" "):
                        chunk = {"choices": [{"index": 0, "delta": {"content": word + " "}}]}
                        self.wfile.write(f"data: {json.dumps(chunk)}\n\n".encode())
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                    self.close_connection = True
                finally:
                    with lock:
                        owner.in_flight -= 1

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def test_a_batch_through_the_vllm_engine_keeps_the_server_busy_and_resumes(demo_products, tmp_path):
    from assistant.generation.openai_compat import OpenAICompatGenerator

    stub = StubServer()
    try:
        engine = OpenAICompatGenerator(stub.url, model="base-model", read_timeout_s=10, retry_backoff_s=0.01)
        settings = CopySettings(server_concurrency=6, candidates=1)
        service = CopyService(
            engine, dict(demo_products), settings=settings, model_id="vllm:m", engine="vllm"
        )
        products = list(demo_products.values())[:24]
        out = tmp_path / "copy.csv"
        with pytest.raises(Killed):
            CopyBatch(service, out).run(products, progress=False, on_result=kill_after(9))
        acknowledged = {
            json.loads(line)["id"] for line in (tmp_path / "copy.csv.state").read_text().splitlines()
        }
        assert len(acknowledged) == 9 and stub.peak == 6
        assert stub.bodies[0]["repetition_penalty"] == 1.1  # the decoding settings reach the server
        sent = len(stub.bodies)
        report = CopyBatch(service, out).run(products, progress=False)
        rows = read_rows(out)
        assert report.skipped == 9 and report.written == 15  # nothing acknowledged was redone or lost
        assert len(stub.bodies) - sent == 15
        assert sorted(r["product_id"] for r in rows) == sorted(p.id for p in products)
        assert all(r["candidates"] == "1" and r["source"] == "model" for r in rows)
    finally:
        stub.close()


def test_rows_the_model_could_not_write_are_kept_but_redone_by_the_next_run(demo_products, tmp_path):
    class Down(FakeGenerator):
        def stream(self, request):
            raise GeneratorError("the endpoint is down")
            yield ""

    products = list(demo_products.values())[:6]
    out = tmp_path / "copy.jsonl"
    down = CopyService(Down(), dict(demo_products), model_id="vllm:m", engine="vllm")
    report = CopyBatch(down, out).run(products, progress=False)
    assert report.written == 6 and report.unavailable == 6 and report.sources == {"template": 6}
    assert len(read_rows(out)) == 6  # the shop has copy meanwhile
    up = CopyService(Server(), dict(demo_products), model_id="vllm:m", engine="vllm")
    again = CopyBatch(up, out).run(products, progress=False)
    assert again.written == 6 and again.skipped == 0 and again.unavailable == 0
    assert {r["source"] for r in read_rows(out)} == {"model"} and len(read_rows(out)) == 6
    assert CopyBatch(up, out).run(products, progress=False).skipped == 6


def test_how_fast_a_batch_runs_is_not_part_of_a_row_key_what_it_writes_is(service, footwear, tmp_path):
    out = tmp_path / "copy.jsonl"
    CopyBatch(service, out).run(footwear, progress=False)
    service.settings = service.settings.model_copy(update={"workers": 3, "server_concurrency": 50})
    assert CopyBatch(service, out).run(footwear, progress=False).skipped == len(footwear)
    service.settings = service.settings.model_copy(update={"candidates": 2})
    report = CopyBatch(service, out).run(footwear, progress=False)
    assert report.written == len(footwear) and report.candidates == 2 * len(footwear)
    assert {r["candidates"] for r in read_rows(out)} == {2}


def test_a_csv_batch_of_the_previous_version_is_redone_not_refused(service, footwear, tmp_path):
    out = tmp_path / "copy.csv"
    old = [c for c in COLUMNS if c != "candidates"]
    out.write_text(",".join(old) + "\n" + ",".join(["HP-1001"] + ["x"] * (len(old) - 1)) + "\n")
    (tmp_path / "copy.csv.state").write_text(
        json.dumps({"id": "HP-1001", "key": "old", "start": 0, "end": 9}) + "\n"
    )
    report = CopyBatch(service, out).run(footwear, progress=False)
    rows = read_rows(out)
    assert report.written == len(footwear) == len(rows) and list(rows[0]) == list(COLUMNS)
