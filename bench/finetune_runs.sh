#!/usr/bin/env bash
# The real fine-tuning runs of issue 5, one after the other (they would fight for the 2 cores),
# then the training benchmark. Re-running this script resumes a killed run from its checkpoint.
set -u
cd "$(dirname "$0")/.."
COMMON=(--steps 100 --max-length 512 --batch-size 4 --grad-accum 1 --lr 3e-4 --warmup-steps 10 --eval-every 20 --max-eval-examples 48 --checkpoint-every 10 --threads 1 --merge)
.venv/bin/shopassist finetune --task cs --name cs-lora "${COMMON[@]}" --json bench/results/finetune-cs.json > bench/results/finetune-cs.log 2>&1
.venv/bin/shopassist finetune --task copy --name copy-lora "${COMMON[@]}" --json bench/results/finetune-copy.json > bench/results/finetune-copy.log 2>&1
.venv/bin/shopassist bench finetune --task cs --tokens 16000 --json bench/results/bench-finetune.json > bench/results/bench-finetune.log 2>&1
