PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-large install clean

$(BIN)/python:
	$(PY) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

# the sample world (sample_data/README.md) and the case the demo traces
SAMPLE := sample_data
DEMO_CASE ?= TH-00018
SAMPLE_DUMPS := $(SAMPLE)/bank/amlworld_transfers.csv $(wildcard $(SAMPLE)/bank/camt053/*.xml) \
	$(SAMPLE)/tron/usdt_trc20_transfers.csv $(SAMPLE)/ethereum/transactions.csv \
	$(SAMPLE)/ethereum/token_transfers.csv $(SAMPLE)/bitcoin/inputs.csv $(SAMPLE)/bitcoin/outputs.csv

demo: $(STAMP)
	rm -rf demo-workspace demo-result
	$(BIN)/tracer ingest $(SAMPLE_DUMPS) --labels $(SAMPLE)/labels.csv --prices $(SAMPLE)/prices.csv -w demo-workspace
	$(BIN)/tracer trace -w demo-workspace --level entity -o demo-result \
		--tx $$(awk -F, '$$1 == "$(DEMO_CASE)" { print $$2 }' $(SAMPLE)/cases.csv | paste -sd, -)
	$(BIN)/tracer evaluate demo-result --truth $(SAMPLE)/truth -w demo-workspace

test: $(STAMP)
	$(BIN)/python -m pytest -q

# Benchmarks of tracer and its peers (pip extra "bench") on one generated dump: writes
# benchmarks/results/n<N>.json, then BENCHMARKS.md (also when a benchmark failed, e.g. a peer
# disagreed; the exit status is pytest's). 1M transfers by default (~5 min here);
# `make bench BENCH_N=10000000` for 10M (~20 min); `make bench-large` for 100M (~55 min here
# once the dump exists, 24 GiB of memory; peers and children that cannot fit are skipped).
bench: $(STAMP)
	$(BIN)/python -c 'import raphtory, networkx, networkit, igraph, scipy' 2>/dev/null \
		|| $(BIN)/python -m pip install -q -e '.[test,bench]'
	mkdir -p benchmarks/results
	TRACER_BENCH_N=$(or $(BENCH_N),1000000) $(BIN)/python -m pytest benchmarks -q \
		-p no:cacheprovider --benchmark-only --benchmark-columns=median,min,max,rounds \
		--benchmark-json=benchmarks/results/n$(or $(BENCH_N),1000000).json; \
	status=$$?; $(BIN)/python -m benchmarks.report; exit $$status

bench-large: $(STAMP)
	$(BIN)/python -c 'import raphtory, networkx, networkit, igraph, scipy' 2>/dev/null \
		|| $(BIN)/python -m pip install -q -e '.[test,bench]'
	mkdir -p benchmarks/results
	TRACER_BENCH_N=100000000 $(BIN)/python -m pytest benchmarks -q --large \
		-p no:cacheprovider --benchmark-only --benchmark-columns=median,min,max,rounds \
		--benchmark-json=benchmarks/results/n100000000.json; \
	status=$$?; $(BIN)/python -m benchmarks.report; exit $$status

clean:
	rm -rf $(VENV) demo-workspace demo-result .pytest_cache
