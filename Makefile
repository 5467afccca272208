# Every target installs what it needs into .venv first, so a fresh machine needs
# only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAGE ?= dev

.PHONY: install run test lint bench notebooks package deploy clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.installed

## make run: the API on http://localhost:$(PORT) against an embedded moto server.
run: install
	PORT=$(PORT) $(BIN)/python -m scripts.local_stack

lint: install
	$(BIN)/ruff check .
	$(BIN)/mypy

## make test: lint, type-check, unit/API tests with branch coverage, and the notebooks (strict nbval).
test: lint
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term tests notebooks --nbval \
		--nbval-sanitize-with notebooks/sanitize.cfg

## make bench: request counts per flow, import cost, sweep scaling, package size.
bench: install
	$(BIN)/python -m scripts.bench

## make notebooks: re-execute every notebook and save its outputs.
notebooks: install
	$(BIN)/jupyter nbconvert --to notebook --execute --inplace notebooks/*.ipynb

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache .coverage
