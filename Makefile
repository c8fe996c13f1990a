# The two commands of the README: `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-fast install lock migrate seed screenshots clean

# SPEC OPS-5: the dependency set is pinned with hashes (requirements-dev.lock: the portal and its test
# tools; requirements.lock: the portal alone, for the image), made by pip-tools from pyproject.toml with
# `make lock`. The portal itself is installed editable, without dependencies.
$(STAMP): pyproject.toml requirements-dev.lock
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet --require-hashes -r requirements-dev.lock
	$(BIN)/pip install --quiet --no-deps -e .
	@touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(BIN)/python manage.py migrate --noinput

seed: migrate
	$(BIN)/python manage.py seed_demo

# The demo: SQLite, Celery eager, e-mail and SMS on the console. No services needed.
run: export DATABASE_URL=
run: export REDIS_URL=
run: seed
	$(BIN)/python manage.py runserver 127.0.0.1:8000

# The whole suite. With DATABASE_URL / REDIS_URL set it runs on PostgreSQL and Redis; without them
# on SQLite, and the tests that need Redis are skipped (pytest's summary says which).
test: $(STAMP)
	@if [ -z "$$DATABASE_URL" ]; then echo "make test: DATABASE_URL is not set: running on SQLite."; fi
	@if [ -z "$$REDIS_URL" ]; then echo "make test: REDIS_URL is not set: the real-worker Celery tests are skipped."; fi
	$(BIN)/python -m pytest $(PYTEST_ARGS)

# Browser-free tests only (fast; what CI runs a second time on SQLite).
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not browser and not real_worker" $(PYTEST_ARGS)

# Refresh docs/screenshots from the browser tests.
screenshots: $(STAMP)
	SCREENSHOTS=docs/screenshots $(BIN)/python -m pytest -m browser $(PYTEST_ARGS)

# Refresh both lock files after a change of pyproject.toml's dependencies; `make lock LOCK_ARGS=--upgrade`
# takes the newest releases too.
lock:
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install --quiet pip-tools
	$(BIN)/pip-compile --quiet $(LOCK_ARGS) --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--output-file=requirements.lock pyproject.toml
	$(BIN)/pip-compile --quiet $(LOCK_ARGS) --generate-hashes --allow-unsafe --strip-extras --no-emit-index-url --no-emit-find-links \
		--extra=dev --output-file=requirements-dev.lock pyproject.toml

clean:
	rm -rf $(VENV) staticfiles .pytest_cache
