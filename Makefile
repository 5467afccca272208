# Every target installs what it needs into .venv first, so a fresh machine needs
# only Python 3.11 and make.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
STAGE ?= dev

.PHONY: install run test lint browser-tools screenshots bench notebooks package deploy clean

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
	$(BIN)/ruff format --check .
	$(BIN)/mypy

## The browser tests and `make screenshots` drive Debian's Chromium and read QR codes with zbarimg
## (Playwright cannot download a browser here). As root they are installed when missing; otherwise
## this stops with the command that installs them.
browser-tools:
	@if [ ! -x /usr/bin/chromium ] || ! command -v zbarimg >/dev/null; then \
		if [ "$$(id -u)" -eq 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium zbar-tools; \
		else \
			echo "The browser tests need Debian's Chromium and zbarimg; install them with:" >&2; \
			echo "    sudo apt-get update && sudo apt-get install -y chromium zbar-tools" >&2; \
			exit 1; \
		fi; \
	fi

## make test: lint, type-check, the tests (the browser tests among them) with branch coverage of
## chalicelib (>= 90 %), then every notebook under strict nbval, in a pytest run of its own (its
## kernels do not share the tests' process).
test: lint browser-tools
	$(BIN)/python -m pytest --cov --cov-branch --cov-report=term tests
	$(BIN)/python -m pytest --nbval notebooks --nbval-sanitize-with notebooks/sanitize.cfg

## make screenshots: the main pages, as a person sees them, into docs/.
screenshots: install browser-tools
	$(BIN)/python -m scripts.screenshots

## make bench: request counts per flow, import cost, sweep scaling, make run under load, package size;
## the figures also go to bench.json.
bench: install
	$(BIN)/python -m scripts.bench

## make notebooks: re-execute every notebook and save the outputs, only if every check in every
## notebook held: a failing cell fails the command and leaves all of them as they were.
notebooks: install browser-tools
	$(BIN)/python -m devkit.run_notebooks notebooks/*.ipynb

clean:
	rm -rf $(VENV) dist .pytest_cache .mypy_cache .ruff_cache .coverage

## make package STAGE=prod: the CloudFormation (SAM) template and the Lambda zip in dist/$(STAGE)/.
DIST ?= dist
REGION ?= $(or $(AWS_REGION),$(AWS_DEFAULT_REGION),us-east-1)

package: install
	AWS_DEFAULT_REGION=$(REGION) $(BIN)/chalice package --stage $(STAGE) \
		--merge-template infra/template.json $(DIST)/$(STAGE)

## make deploy STAGE=prod BUCKET=... SENDER_EMAIL=... ALARM_EMAIL=... [PARAMETERS="Name=value ..."]: package,
## upload, then create or update the CloudFormation stack $(STACK). Needs the AWS CLI and credentials
## (README.md, "Deploy to AWS").
STACK ?= aegis-2fa-$(STAGE)

deploy:
	@test -n "$(BUCKET)" || { echo "make deploy needs BUCKET=<S3 bucket in $(REGION) for the code>" >&2; exit 2; }
	@test -n "$(SENDER_EMAIL)" || { echo "make deploy needs SENDER_EMAIL=<verified SES sender>" >&2; exit 2; }
	@test -n "$(ALARM_EMAIL)" || { echo "make deploy needs ALARM_EMAIL=<who gets the alarms>" >&2; exit 2; }
	$(MAKE) --no-print-directory package
	aws cloudformation package --region $(REGION) --template-file $(DIST)/$(STAGE)/sam.json \
		--s3-bucket $(BUCKET) --s3-prefix $(STACK) --use-json \
		--output-template-file $(DIST)/$(STAGE)/packaged.json
	aws cloudformation deploy --region $(REGION) --stack-name $(STACK) \
		--template-file $(DIST)/$(STAGE)/packaged.json --s3-bucket $(BUCKET) --s3-prefix $(STACK) \
		--capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND --no-fail-on-empty-changeset \
		--parameter-overrides SenderEmail=$(SENDER_EMAIL) AlarmEmail=$(ALARM_EMAIL) $(PARAMETERS)
	aws cloudformation describe-stacks --region $(REGION) --stack-name $(STACK) \
		--query 'Stacks[0].Outputs' --output table
