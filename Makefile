# Two commands on a fresh machine with Python 3.11 and make: `make demo` and `make test`.
#
# Install stamps: `.venv/.installed` (runtime dependencies only, what `make demo` needs) and
# `.venv/.installed-dev` (with the dev extra, what `make test` needs) depend on pyproject.toml,
# so editing it re-installs. A stamp is written only after pip succeeded (a failed install
# leaves none, and the next `make` tries again); a stamp made with the dev extra does not
# stand in for the runtime one, so `make demo` never passes thanks to a dev-only package.
PYTHON ?= python3.11
VENV ?= .venv
BIN := $(VENV)/bin
DEMO_DIR ?= demo_data
PIP := $(BIN)/python -m pip --disable-pip-version-check

.PHONY: demo test test-fast install install-dev bench clean
.DELETE_ON_ERROR:

$(VENV)/.venv-ready:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	touch $@

$(VENV)/.installed: $(VENV)/.venv-ready pyproject.toml
	rm -f $@ $(VENV)/.installed-dev
	$(PIP) install -e .
	touch $@

$(VENV)/.installed-dev: $(VENV)/.installed pyproject.toml
	rm -f $@
	$(PIP) install -e ".[dev]"
	touch $@

install: $(VENV)/.installed

install-dev: $(VENV)/.installed-dev

demo: $(VENV)/.installed
	$(BIN)/channelcast demo --out $(DEMO_DIR)

test: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy features models training serving channelcast tests benchmarks
	$(BIN)/python -m pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

# The inner loop: as `test`, without the tests marked slow (browser, Dask, notebooks,
# schemathesis, real-data backtests, crash and load tests).
test-fast: $(VENV)/.installed-dev
	$(BIN)/ruff check .
	$(BIN)/mypy features models training serving channelcast tests benchmarks
	$(BIN)/python -m pytest -m "not slow"; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

bench: $(VENV)/.installed-dev
	$(PIP) install -e ".[dev,bench]"
	$(BIN)/python benchmarks/features.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache .ruff_cache
