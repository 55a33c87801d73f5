PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	rm -rf demo-workspace
	$(BIN)/tracer ingest sample_data/transfers.csv --labels sample_data/labels.csv -w demo-workspace
	$(BIN)/tracer trace -w demo-workspace --tx VIC-0001,VIC-0002,VIC-0003 --stop-at exchange,otc -o demo-result

test: $(STAMP)
	$(BIN)/python -m pytest -q

bench: $(STAMP)
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-columns=median,min,max,rounds

clean:
	rm -rf $(VENV) demo-workspace demo-result .pytest_cache
