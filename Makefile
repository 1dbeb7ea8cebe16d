# Two commands do all set-up: `make demo` runs the back office on its embedded
# default (SQLite + filesystem broker, no server needed); `make test` runs the
# suite against PostgreSQL and Redis.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp
TEST_ENV := DJANGO_SETTINGS_MODULE=config.settings.test
# Test processes (pytest-xdist; each gets its own PostgreSQL databases and Redis database): one per core,
# at most 4. TEST_PROCESSES=0 runs everything in one process.
TEST_PROCESSES ?= $(shell n=$$(nproc 2>/dev/null || echo 2); [ $$n -gt 4 ] && n=4; echo $$n)

.PHONY: demo test lint venv migrate clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

migrate: venv
	$(PY) manage.py migrate --noinput
	$(PY) manage.py migrate --database platform --noinput

demo: migrate
	$(PY) manage.py load_demo
	PATH="$(CURDIR)/$(VENV)/bin:$$PATH" $(VENV)/bin/honcho start -f Procfile

test: venv
	$(TEST_ENV) $(PY) manage.py check_services
	$(TEST_ENV) $(VENV)/bin/pytest --numprocesses $(TEST_PROCESSES) --dist worksteal $(PYTEST_ARGS)

# ruff, the layering contracts of pyproject.toml's [tool.importlinter] (ARCHITECTURE.md), then mypy.
lint: venv
	$(VENV)/bin/ruff check .
	$(VENV)/bin/lint-imports
	$(TEST_ENV) $(VENV)/bin/mypy

clean:
	rm -rf var/*.sqlite3* var/broker var/mail var/private
