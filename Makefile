# Set-up and everyday commands. Each target creates the virtual environment it needs.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cksum < pyproject.toml | cut -d' ' -f1)

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[test]'
	rm -f $(VENV)/.installed-*
	touch $@

## demo: set up, then sweep the bundled example script (6 experiments) and show the run
demo: $(STAMP)
	@name=demo-$$(date +%Y%m%d-%H%M%S); \
	$(BIN)/grid run --name $$name --seed 7 examples/train.py \
		--learning_rate "[0.01, 0.1, 1.0]" --l2 "loguniform(1e-5, 1e-1, 2)" --epochs 5 && \
	$(BIN)/grid status $$name && \
	echo && echo "its logs: $(BIN)/grid logs $$name-exp0    all runs: $(BIN)/grid history"

## test: set up, then run the whole test suite
test: $(STAMP)
	$(BIN)/python -m pytest

## lint: ruff over the code, the tests and the benchmarks
lint: $(STAMP)
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples

## bench: the benchmarks under bench/ (by hand; see bench/README.md)
bench: $(STAMP)
	$(BIN)/python bench/expansion.py
	$(BIN)/python bench/launch.py
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/dashboard.py
	$(BIN)/python bench/ray_launch.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis build src/*.egg-info
