"""LoRA fine-tuning for the task adapters (customer-service replies, product copy).

Submodules: `data` (build, scrub, split, fingerprint, tokenize), `config` (TrainConfig), `train`
(loop, checkpoints, export), `tasks` (registry + the CLI's entry point), `evaluate` and `claims`
(base vs adapter), `bench` (naive vs optimized training). Importing the package loads no torch.
"""
