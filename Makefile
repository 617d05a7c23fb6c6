# offerctl — make help lists the targets.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-dev
# Node tools the tests run (Azurite, the Azure Storage emulator), pinned in package-lock.json.
NODE_STAMP := node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help setup demo test test-slow lint pytest bench clean schemas install-check browser

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-8s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund --ignore-scripts
	touch $(NODE_STAMP)

setup: $(STAMP) $(NODE_STAMP) browser ## create .venv, install offerctl with its dev tools, and Azurite

# Chromium for the timeline page's browser tests: Debian's package, installed only when no
# Chromium is found (Playwright's own browser download needs hosts we may not reach).
browser: ## install Debian's chromium unless a Chromium is on PATH or in OFFERCTL_CHROMIUM
	@if [ -n "$$OFFERCTL_CHROMIUM" ] || command -v chromium >/dev/null 2>&1; then :; \
	else \
		sudo=; [ "$$(id -u)" = 0 ] || sudo=sudo; \
		$$sudo apt-get update -q && \
		DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -q --no-install-recommends chromium; \
	fi

demo: $(STAMP) browser ## the main job: run offerctl on the shipped example offers
	$(PY) -m controller demo --screenshot demo-out/timeline.png

lint: $(STAMP) ## ruff (lint and format) and mypy
	$(VENV)/bin/ruff check controller tests bench
	$(VENV)/bin/ruff format --check controller tests bench
	$(VENV)/bin/mypy

pytest: $(STAMP) $(NODE_STAMP) browser ## the test suite without the slow tests (under 3 minutes on 2 cores)
	$(VENV)/bin/pytest -n 2 -q -m "not slow"

test: lint pytest ## lint, then the tests (CI then runs test-slow and install-check)

test-slow: $(STAMP) $(NODE_STAMP) browser ## the slow tests (crash, chaos, state machine, daemons, browser), each with a budget
	$(VENV)/bin/pytest -n 2 -q -m slow

install-check: $(STAMP) ## install the wheel as users do (pip, pre-commit) and use it elsewhere
	OFFERCTL_INSTALL_TESTS=1 $(VENV)/bin/pytest -q -n 0 -p no:randomly tests/test_install.py

schemas: ## copy schemas/ (edited here, named by editor modelines) into the package
	cp schemas/*.schema.json controller/schemas/
	mkdir -p controller/schemas/partnercenter
	cp schemas/partnercenter/*.schema.json controller/schemas/partnercenter/

bench: $(STAMP) $(NODE_STAMP) ## benchmarks, as ratios against baselines measured in the same run
	$(PY) bench/run.py

clean: ## remove the venv and caches
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache node_modules
