# make run    set up .venv and run the embedded default job (cheese MSM+AFT on SmolLM2-135M, CPU)
# make test   set up .venv, lint (ruff, import contracts), build the docs strictly and run the test suite (what CI runs)
# make test-fast  the development lane: lint, unit tests and one end-to-end job (a few minutes)
# make docs   build the docs site into site/ (--strict: a broken link or reference fails)
.PHONY: setup run lint docs test test-fast
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

docs: setup
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet --site-dir site

# Two test processes, a test file each at a time (module fixtures are built once); override: make test TEST_WORKERS=4
TEST_WORKERS ?= 2
test: lint docs
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile

test-fast: lint
	.venv/bin/python -m pytest -n $(TEST_WORKERS) --dist loadfile tests/unit tests/e2e/test_embedded.py
