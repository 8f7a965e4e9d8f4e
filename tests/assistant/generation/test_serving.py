"""serve-model's pieces without vLLM: the command, the environment, server records, routing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from assistant.cli.main import cli
from assistant.generation import serving
from assistant.generation.adapters import AdapterRecord, AdapterRegistry, adapter_for_task, merge_adapter


def fake_adapter(folder: Path, rank: int = 8) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "adapter_config.json").write_text(json.dumps({"r": rank, "peft_type": "LORA"}))
    return folder


def register(
    settings, name: str, task: str = "cs", rank: int = 8, created: str | None = None
) -> AdapterRecord:
    extra = {"created": created} if created else {}
    record = AdapterRecord(
        name=name, task=task, path=fake_adapter(settings.home / "ad" / name, rank), base_model="base", **extra
    )
    return AdapterRegistry.for_home(settings.home).register(record)


def test_command_serves_base_and_every_adapter(settings, tmp_path):
    settings.serving.extra_args = ["--tensor-parallel-size", "2"]
    settings.generator.api_key = "k"
    a = register(settings, "cs-a", rank=8)
    b = register(settings, "copy-b", task="copy", rank=12)
    cmd = serving.build_command(settings, tmp_path / "model", "base-name", adapters=[a, b], port=9001)
    assert cmd[0] == str(settings.home / "vllm-venv" / "bin" / "python")
    assert cmd[1:3] == ["-m", "vllm.entrypoints.openai.api_server"]
    pairs = dict(zip(cmd[3::], cmd[4::], strict=False))
    assert pairs["--model"] == str(tmp_path / "model") and pairs["--served-model-name"] == "base-name"
    assert (pairs["--host"], pairs["--port"], pairs["--api-key"]) == ("127.0.0.1", "9001", "k")
    assert "--enable-lora" in cmd and pairs["--max-lora-rank"] == "16"  # 12 rounded up to a vLLM rank
    i = cmd.index("--lora-modules")
    assert cmd[i + 1 : i + 3] == [f"cs-a={a.path}", f"copy-b={b.path}"]
    assert cmd[-2:] == ["--tensor-parallel-size", "2"]


def test_command_without_adapters_has_no_lora_flags(settings, tmp_path):
    cmd = serving.build_command(settings, tmp_path, "m")
    assert "--enable-lora" not in cmd and "--port" in cmd and cmd[cmd.index("--port") + 1] == "8100"


def test_compiled_server_and_core_binding_are_settings(settings, tmp_path):
    assert "--enforce-eager" in serving.build_command(settings, tmp_path, "m")
    assert "VLLM_CPU_OMP_THREADS_BIND" not in serving.server_env(settings)
    settings.serving.eager = False
    settings.serving.cpu_threads_bind = "0-1"
    assert "--enforce-eager" not in serving.build_command(settings, tmp_path, "m")
    assert serving.server_env(settings)["VLLM_CPU_OMP_THREADS_BIND"] == "0-1"


def test_lora_rank_setting_and_limits(settings):
    a = register(settings, "cs-a", rank=4)
    assert serving.max_lora_rank(settings, [a]) == 8
    settings.serving.max_lora_rank = 32
    assert serving.max_lora_rank(settings, [a]) == 32
    settings.serving.max_lora_rank = 600
    with pytest.raises(serving.ServingError, match="above vLLM's maximum 512"):
        serving.max_lora_rank(settings, [a])


def test_environment_is_offline_and_sized(settings):
    settings.serving.kv_cache_gib = 2
    env = serving.server_env(settings)
    assert env["VLLM_CPU_KVCACHE_SPACE"] == "2" and env["HF_HUB_OFFLINE"] == "1"
    assert env["TRANSFORMERS_OFFLINE"] == "1" and env["VLLM_CACHE_ROOT"] == str(settings.home / "vllm-cache")


def test_base_alone_leaves_the_registered_adapters_out(settings, monkeypatch, tmp_path):
    register(settings, "cs-a")
    monkeypatch.setattr(serving, "vllm_python", lambda s: Path(sys.executable))
    import assistant.generation.models

    monkeypatch.setattr(assistant.generation.models, "resolve_generator_model", lambda *a: tmp_path)
    seen = []

    class Built(Exception):
        pass

    def build(settings, model_dir, name, adapters=(), port=None):
        seen.append([a.name for a in adapters])
        raise Built

    monkeypatch.setattr(serving, "build_command", build)
    for adapters in (True, False):
        with pytest.raises(Built):
            serving.start_server(settings, adapters=adapters)
    assert seen == [["cs-a"], []]


def test_start_without_an_environment_says_install(settings):
    settings.serving.python = settings.home / "missing" / "python"
    with pytest.raises(serving.ServingError, match="serve-model --install"):
        serving.start_server(settings)


def sleeper(tag: str) -> subprocess.Popen[bytes]:
    """A stand-in server process whose command line contains 'vllm' (as the liveness check wants)."""
    return subprocess.Popen(
        [sys.executable, "-c", "import time, sys; time.sleep(60)", f"fake-vllm-{tag}"], start_new_session=True
    )


def record(
    settings, name: str, pid: int, url: str, models: dict[str, str], command: list[str] | None = None
) -> None:
    folder = serving.state_dir(settings.home)
    folder.mkdir(parents=True, exist_ok=True)
    state = serving.ServerState(name=name, pid=pid, url=url, models=models, command=command or [])  # type: ignore[arg-type]
    (folder / f"{name}.json").write_text(state.model_dump_json())


def test_records_route_names_prefer_merged_and_stop_by_pid(settings):
    base, merged = sleeper("base"), sleeper("merged")
    try:
        record(settings, "base", base.pid, "http://127.0.0.1:8100", {"b": "base", "cs": "lora"}, base.args)
        record(settings, "merged-cs", merged.pid, "http://127.0.0.1:8101", {"cs": "merged"}, merged.args)
        record(settings, "dead", 2**22 + 7, "http://127.0.0.1:9", {"gone": "base"})
        assert {s.name for s in serving.running_servers(settings.home)} == {"base", "merged-cs"}
        assert not (serving.state_dir(settings.home) / "dead.json").exists()  # dead records are dropped
        assert serving.endpoint_for(settings.home, "cs") == "http://127.0.0.1:8101"
        assert serving.endpoint_for(settings.home, "b") == "http://127.0.0.1:8100"
        assert serving.endpoint_for(settings.home, "other") is None

        env = {"SHOPASSIST_HOME": str(settings.home)}
        result = CliRunner().invoke(cli, ["serve-model", "--stop", "--merged", "cs"], env=env)
        assert result.exit_code == 0, result.output
        assert f"stopped merged-cs (PID {merged.pid})" in result.output
        assert merged.wait(timeout=5) is not None and base.poll() is None
        assert serving.endpoint_for(settings.home, "cs") == "http://127.0.0.1:8100"  # the LoRA now

        result = CliRunner().invoke(cli, ["serve-model", "--stop"], env=env)
        assert f"stopped base (PID {base.pid})" in result.output
        assert base.wait(timeout=5) is not None
        assert CliRunner().invoke(cli, ["serve-model", "--stop"], env=env).output.startswith("no running")
    finally:
        for proc in (base, merged):
            if proc.poll() is None:
                proc.kill()


def test_a_reused_pid_is_not_killed(settings):
    # This pytest process (whose command line may well mention vllm) is not the recorded server.
    record(settings, "base", os.getpid(), "http://127.0.0.1:8100", {"b": "base"}, ["python", "-m", "vllm"])
    assert serving.running_servers(settings.home) == []
    record(settings, "base", os.getpid(), "http://127.0.0.1:8100", {"b": "base"})  # no command recorded
    assert serving.running_servers(settings.home) == []
    assert serving.stop_servers(settings.home) == []


def test_task_adapter_configured_then_registered_then_none(settings):
    registry = AdapterRegistry.for_home(settings.home)
    assert adapter_for_task("cs", {}, registry) is None
    register(settings, "cs-old", created="2026-01-01T00:00:00+00:00")
    register(settings, "cs-new", created="2026-02-01T00:00:00+00:00")
    register(settings, "copy-1", task="copy")
    assert adapter_for_task("cs", {}, registry) == "cs-new"
    assert adapter_for_task("cs", {"cs": "cs-old"}, registry) == "cs-old"
    assert adapter_for_task("cs", {"cs": ""}, registry) is None
    assert adapter_for_task("copy", {"cs": ""}, registry) == "copy-1"


def test_config_has_the_serving_section(settings, tmp_path, monkeypatch):
    (tmp_path / "shopassist.toml").write_text(
        '[generator]\nengine = "vllm"\nfallback = "embedded"\ntask_adapters = {cs = "cs-v2"}\n'
        '[serving]\nport = 8200\nextra_args = ["--tensor-parallel-size", "2"]\n'
    )
    monkeypatch.setenv("SHOPASSIST_GENERATOR__API_KEY", "abc")
    from assistant.config import load_settings

    loaded = load_settings()
    assert (loaded.generator.engine, loaded.generator.fallback, loaded.generator.api_key) == (
        "vllm",
        "embedded",
        "abc",
    )
    assert loaded.generator.task_adapters == {"cs": "cs-v2"}
    assert loaded.serving.port == 8200 and loaded.serving.extra_args[-1] == "2"
    assert serving.vllm_python(loaded) == loaded.home / "vllm-venv" / "bin" / "python"


def test_example_config_loads(settings):
    from assistant.config import load_settings

    example = Path(__file__).resolve().parents[3] / "shopassist.example.toml"
    loaded = load_settings(example)
    assert loaded.serving.port == 8100


@pytest.mark.slow
def test_merged_weights_match_the_adapter(smollm_dir, tmp_path):
    """merge_and_unload folded into a saved folder predicts what base + adapter predicts."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    adapter = serving.noise_lora_adapter(smollm_dir, tmp_path / "cs", rank=8, seed=3)
    merged_dir = merge_adapter(base_dir=smollm_dir, adapter_dir=adapter, out_dir=tmp_path / "cs-merged")
    assert (merged_dir / "config.json").exists() and not (tmp_path / "cs-merged.partial").exists()
    ids = AutoTokenizer.from_pretrained(smollm_dir)("Waterproof boots for a rainy hike", return_tensors="pt")
    with torch.no_grad():
        base = AutoModelForCausalLM.from_pretrained(smollm_dir, dtype=torch.float32)
        plain = base(**ids).logits
        tuned = PeftModel.from_pretrained(base, str(adapter))(**ids).logits
        merged = AutoModelForCausalLM.from_pretrained(merged_dir, dtype=torch.float32)(**ids).logits
    assert (tuned - plain).abs().max() > 0.5  # the adapter matters
    assert (merged - tuned).abs().max() < 0.25 * (tuned - plain).abs().max()  # bf16 rounding only
    assert (merged.argmax(-1) == tuned.argmax(-1)).float().mean() >= 0.8


def test_shipped_adapters_serve_a_fresh_install_until_the_shop_trains_its_own(settings, tmp_path):
    import json

    from assistant.generation.adapters import RegistryError, shipped_records

    shipped = tmp_path / "shipped"
    folder = fake_adapter(shipped / "rewrite-lora", 8)
    (folder / "record.json").write_text(
        json.dumps({"name": "rewrite-lora", "task": "rewrite", "base_model": "smollm2-135m-instruct"})
    )
    registry = AdapterRegistry(settings.home / "adapters" / "registry.json", shipped=shipped)
    assert shipped_records(shipped)["rewrite-lora"].path == folder
    assert adapter_for_task("rewrite", {}, registry, "smollm2-135m-instruct") == "rewrite-lora"
    assert adapter_for_task("rewrite", {}, registry, "qwen2.5-7b-instruct") is None  # fits only its base
    assert adapter_for_task("rewrite", {"rewrite": ""}, registry) is None
    assert [r.name for r in registry.list()] == ["rewrite-lora"]
    with pytest.raises(RegistryError, match="ships with shopassist"):
        registry.remove("rewrite-lora")
    own = AdapterRecord(
        name="rewrite-mine",
        task="rewrite",
        path=fake_adapter(tmp_path / "mine", 8),
        base_model="/models/smollm2-135m-instruct",
    )
    registry.register(own)
    assert adapter_for_task("rewrite", {}, registry, "smollm2-135m-instruct") == "rewrite-mine"
