# offerctl — make help lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev

.DEFAULT_GOAL := help
.PHONY: help setup demo test lint pytest bench clean schemas install-check

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP) ## create .venv and install offerctl with its dev tools

demo: $(STAMP) ## the main job: run offerctl on the shipped example offers
	$(PY) -m controller demo

lint: $(STAMP) ## ruff and mypy
	$(VENV)/bin/ruff check controller tests bench
	$(VENV)/bin/mypy

pytest: $(STAMP) ## the test suite
	$(VENV)/bin/pytest -n 2 -q

test: lint pytest ## everything CI runs: lint, then tests

install-check: $(STAMP) ## install the wheel as users do (pip, pre-commit) and use it elsewhere
	OFFERCTL_INSTALL_TESTS=1 $(VENV)/bin/pytest -q -n 0 -p no:randomly tests/test_install.py

schemas: ## copy schemas/ (edited here, named by editor modelines) into the package
	cp schemas/*.schema.json controller/schemas/

bench: $(STAMP) ## benchmarks, as ratios against baselines measured in the same run
	$(PY) bench/run.py

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
