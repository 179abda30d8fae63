# make run    set up .venv and run the embedded default job (cheese MSM+AFT on SmolLM2-135M, CPU)
# make test   set up .venv, lint (ruff, import contracts) and run the test suite (what CI runs)
.PHONY: setup run lint test
STAMP := .venv/.msm-installed

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

run: setup
	.venv/bin/python train.py

lint: setup
	.venv/bin/ruff check .
	.venv/bin/lint-imports

# Two test processes, a test file each at a time (module fixtures are built once); override: make test TEST_WORKERS=4
TEST_WORKERS ?= 2
test: lint
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile
