# Every target does its own set-up: a virtual environment with pinned packages and the pinned CDK CLI.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
# The policy scanner (checkov) has its own environment: its pins clash with constraints.txt.
SCANNER_VENV := .venv-checkov
# Offline and quiet: no credentials needed, no metadata probing, no CLI telemetry or notices.
export AWS_DEFAULT_REGION ?= us-east-1
export AWS_EC2_METADATA_DISABLED := true
export CDK_DISABLE_CLI_TELEMETRY := true
export CDK_DISABLE_VERSION_CHECK := true
export PATH := $(abspath $(BIN)):$(PATH)

# The framework images whose Python and libraries the container code's tests also run under (make test-images),
# each in its own environment from requirements-image-<image>.txt; the PyTorch image's torch is not installable here
# (README, Development). PYENV_VERSION picks pyenv's interpreter where python3.X is only a pyenv shim.
IMAGE_PYTHON_sklearn := 3.12
IMAGE_PYTHON_xgboost := 3.10
IMAGE_TESTS := tests/container_code -m "not local_cloud" -n 2 --dist loadfile --durations=5

.PHONY: setup synth demo serve browser test test-all test-images lint format snapshot bench clean

setup: $(VENV)/.installed node_modules/.installed

$(VENV)/.installed: requirements.txt requirements-dev.txt constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt -c constraints.txt
	touch $@

$(SCANNER_VENV)/.installed: requirements-checkov.txt
	test -x $(SCANNER_VENV)/bin/python || $(PYTHON) -m venv $(SCANNER_VENV)
	$(SCANNER_VENV)/bin/python -m pip install --quiet --disable-pip-version-check -r requirements-checkov.txt
	touch $@

.venv-image-%/.installed: requirements-image-%.txt
	test -x .venv-image-$*/bin/python || PYENV_VERSION=$(IMAGE_PYTHON_$*) python$(IMAGE_PYTHON_$*) -m venv .venv-image-$*
	.venv-image-$*/bin/python -m pip install --quiet --disable-pip-version-check --no-deps -r $<
	.venv-image-$*/bin/python -m pip check --disable-pip-version-check
	touch $@

node_modules/.installed: package.json package-lock.json $(VENV)/.installed
	$(BIN)/npm ci --no-audit --no-fund --loglevel=error
	touch $@

# The registry page's browser test runs Debian's Chromium (/usr/bin/chromium; Playwright's own browser download cannot
# work here). Installed once as root with apt-get; a no-op when it is already there.
browser:
	@test -x /usr/bin/chromium || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; }

synth: setup  ## the offline synth: cloud assembly in cdk.out
	$(BIN)/npx cdk synth --quiet --no-notices

demo: setup  ## train, register, approve and score on an embedded local cloud
	$(BIN)/python -m demo demo $(DEMO_ARGS)

serve: setup  ## the local cloud for the AWS CLI: make serve PORT=4566
	$(BIN)/python -m demo serve --port $${PORT:-4566} $(SERVE_ARGS)

lint: setup  ## ruff: lint and format check
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

test: lint browser $(SCANNER_VENV)/.installed  ## what CI runs: lint and every test not marked slow (the policy scanner and one fresh-clone demo included)
	$(BIN)/python -m pytest -n 2 --dist loadfile -m "not slow" --durations=15 $(PYTEST_ARGS)

test-all: lint browser $(SCANNER_VENV)/.installed test-images  ## lint and every test, the slow ones too (each flavour's demo, model quality, benchmarks, the CLI session)
	$(BIN)/python -m pytest -n 2 --dist loadfile --durations=15 $(PYTEST_ARGS)

test-images: .venv-image-sklearn/.installed .venv-image-xgboost/.installed  ## the container code's tests under the scikit-learn and XGBoost images' Python and libraries
	.venv-image-sklearn/bin/python -m pytest $(IMAGE_TESTS)
	.venv-image-xgboost/bin/python -m pytest $(IMAGE_TESTS)

format: setup
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

snapshot: setup  ## refresh the pipeline definition snapshots after an intended change
	$(BIN)/python -m tests.pipeline_definitions.refresh_snapshots

bench: setup  ## measured figures: benchmarks/results.json and a table
	$(BIN)/python -m benchmarks $(BENCH_ARGS)

clean:
	rm -rf cdk.out .scoreline
