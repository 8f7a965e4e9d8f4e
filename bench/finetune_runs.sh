#!/usr/bin/env bash
# The real fine-tuning runs of issue 5, one after the other (they would fight for the 2 cores),
# then the training benchmark. Re-running this script resumes a killed run from its checkpoint.
set -u
cd "$(dirname "$0")/.."
# The fast CPU settings of `bench finetune` (attention LoRA, no dropout, lr 1e-3, bf16, packed, all
# cores): on cs, 262 tok/s and val loss 1.076 after 100 steps, vs 98.8 tok/s (1 thread, loaded
# machine) and 1.081 for the earlier all-layer run at lr 3e-4.
COMMON=(--steps 100 --max-length 512 --batch-size 4 --grad-accum 1 --lr 1e-3 --dropout 0 --target-modules q_proj,k_proj,v_proj,o_proj --warmup-steps 10 --eval-every 20 --max-eval-examples 48 --checkpoint-every 10 --merge)
.venv/bin/shopassist finetune --task cs --name cs-lora "${COMMON[@]}" --json bench/results/finetune-cs.json > bench/results/finetune-cs.log 2>&1
.venv/bin/shopassist finetune --task copy --name copy-lora "${COMMON[@]}" --json bench/results/finetune-copy.json > bench/results/finetune-copy.log 2>&1
.venv/bin/shopassist bench finetune --task cs --tokens 16000 --json bench/results/bench-finetune.json > bench/results/bench-finetune.log 2>&1
