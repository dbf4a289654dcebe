# twinboard: `make run` serves the demo twin, `make test` runs the whole suite. Both set themselves up.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 8050

.PHONY: run test system-deps bench check-config clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e ".[test]"
	@touch $(STAMP)

run: $(STAMP)
	@bash scripts/ensure_system_deps.sh run
	$(BIN)/python run.py --port $(PORT)

system-deps:
	@bash scripts/ensure_system_deps.sh

test: $(STAMP) system-deps
	$(BIN)/pip install -q ./examples/twinboard-example-weather
	$(BIN)/python -m pytest

check-config: $(STAMP)
	$(BIN)/twinboard check-config

bench: $(STAMP)
	for b in bench/*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf var .pytest_cache
