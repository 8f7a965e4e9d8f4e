"""The training config: help on every field, JSON round trip, validation, run identity."""

import dataclasses

import pytest

from finetune.config import TrainConfig, TrainConfigError


def test_every_field_has_help():
    for f in dataclasses.fields(TrainConfig):
        assert f.metadata.get("help"), f.name


def test_json_round_trip(tmp_path):
    cfg = TrainConfig(task="copy", rank=8, target_modules=["q_proj", "v_proj"], packing=False, threads=1)
    cfg.save(tmp_path / "training.json", data_fingerprint="abc", metrics={"val": 1.0})
    assert TrainConfig.load(tmp_path / "training.json") == cfg


@pytest.mark.parametrize(
    ("field", "value"), [("rank", 0), ("task", "poems"), ("dropout", 1.5), ("max_length", 8)]
)
def test_invalid_values_name_the_field(field, value):
    with pytest.raises(TrainConfigError, match=field):
        TrainConfig(**{field: value})


def test_unknown_keys_rejected():
    with pytest.raises(TrainConfigError, match="unknown training setting"):
        TrainConfig.from_dict({"rnak": 4})


def test_run_key_ignores_runtime_fields_only():
    a = TrainConfig()
    assert a.run_key("fp", "m") == TrainConfig(threads=1, eval_every=5).run_key("fp", "m")
    assert a.run_key("fp", "m") != TrainConfig(lr=3e-4).run_key("fp", "m")
    assert a.run_key("fp", "m") != a.run_key("other", "m")


def test_import_finetune_does_not_import_torch():
    import subprocess
    import sys

    code = "import sys, finetune, finetune.data, finetune.config, finetune.tasks, assistant.grounding.claims; print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_cuda_gets_a_larger_batch_unless_chosen():
    from finetune.train import device_defaults

    assert device_defaults({"device": "cpu"}) == {"device": "cpu"}
    assert device_defaults({"device": "cuda"})["batch_size"] == 16
    assert device_defaults({"device": "cuda", "batch_size": 2})["batch_size"] == 2


def test_every_task_with_data_is_a_task_the_config_accepts():
    from finetune.config import TASK_NAMES
    from finetune.tasks import TASKS

    assert set(TASKS) == set(TASK_NAMES)
