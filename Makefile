# make run    set up .venv and run the embedded default job (cheese MSM+AFT on SmolLM2-135M, CPU)
# make test   set up .venv and run the test suite (what CI runs)
.PHONY: setup run test
STAMP := .venv/.msm-installed

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh
	bash scripts/setup.sh
	touch $(STAMP)

run: setup
	.venv/bin/python train.py

test: setup
	.venv/bin/python -m pytest
