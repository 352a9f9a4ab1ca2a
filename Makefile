# The two commands of the README: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/adplatform
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15

.PHONY: run test setup setup-dev browser migrate seed lint format clean bench-setup screenshots

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev browser

# Debian's chromium for the admin browser tests (Playwright drives it; nothing is downloaded).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  else echo "Install Debian's chromium (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

migrate: setup
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Prometheus samples of earlier processes (multiprocess mode) are dropped at each start.
run: seed
	rm -rf $${PROMETHEUS_MULTIPROC_DIR:-$${ADPLATFORM_DATA_DIR:-.data}/prometheus}
	PORT=$(PORT) $(VENV)/bin/honcho start -f Procfile

# The lint gate: ruff's formatter and linter (ruff.toml). `make format` applies both fixes.
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup-dev lint
	rm -rf .data/prometheus-test
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/.data/prometheus-test $(VENV)/bin/pytest $(PYTEST_ARGS)

# The compliance workspace's screenshots in docs/screenshots/ (README), from a seeded workspace.
screenshots: setup-dev
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  ADPLATFORM_SCREENSHOTS=1 $(VENV)/bin/pytest -q tests/browser/test_screenshots.py

# Benchmarks (bench/README.md): matplotlib, tqdm, py-spy, and Debian's wrk and redis-server.
$(VENV)/.installed-bench: requirements-bench.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -r requirements-bench.txt
	touch $@

bench-setup: $(VENV)/.installed-bench
	@command -v wrk >/dev/null && command -v redis-server >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk redis-server >/dev/null); \
	  else echo "Install Debian's wrk and redis-server (sudo apt-get install wrk redis-server) for the benchmarks." >&2; exit 1; fi; }

clean:
	rm -rf .data .pytest_cache test-results
