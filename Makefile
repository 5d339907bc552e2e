# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
# The lowest versions pyproject.toml allows, resolved afresh by uv (docs/operations.md,
# "Dependencies"); uv lives in a venv of its own so neither test venv carries it.
LOWEST := .venv-lowest
LOWEST_STAMP := $(LOWEST)/.installed
UV_VENV := .venv-uv
UV := $(UV_VENV)/bin/uv
UV_VERSION := 0.13.9
# A fast subset that touches every direct dependency: a wrong lower bound fails here.
LOWEST_TESTS := tests/storage/test_migrations.py tests/storage/test_grants.py \
	tests/storage/test_media_pipeline.py tests/handlers/slack/test_door.py \
	tests/handlers/telegram/test_flows.py tests/scheduler/test_runner.py \
	tests/scheduler/test_mail.py tests/scheduler/test_reports.py \
	tests/scheduler/test_digest_chart.py tests/bot/test_cli.py tests/bot/test_metrics.py

.PHONY: demo test test-lowest constraints install migrate bench clean

# constraints.txt pins every package to what CI tested; pyproject.toml holds the bounds.
$(STAMP): pyproject.toml constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -c constraints.txt -e '.[dev]'
	touch $(STAMP)

$(UV):
	$(PYTHON) -m venv $(UV_VENV)
	$(UV_VENV)/bin/pip install -q uv==$(UV_VERSION)

# Rebuilt from scratch whenever a bound changes, so nothing newer lingers from before.
$(LOWEST_STAMP): pyproject.toml | $(UV)
	rm -rf $(LOWEST)
	$(PYTHON) -m venv $(LOWEST)
	$(UV) pip install -q --python $(LOWEST)/bin/python --resolution lowest-direct -e '.[dev]'
	touch $(LOWEST_STAMP)

# Re-pin after changing pyproject.toml: new packages are added, the others keep their pins;
# `make constraints UPGRADE=--upgrade` moves everything to the newest allowed.
constraints: $(UV)
	$(UV) pip compile -q $(UPGRADE) pyproject.toml --extra dev --universal \
		--python-version 3.11 --no-annotate --custom-compile-command 'make constraints' \
		-o constraints.txt

install: $(STAMP)

migrate: $(STAMP)
	$(PY) -m bot migrate

# The sandbox migrates and seeds its own file (sandbox.db): nothing .env names is touched.
demo: $(STAMP)
	$(PY) -m bot sandbox

# The whole suite on SQLite and on a throwaway PostgreSQL server (DATABASE_URL_PG skips it),
# in two pytest-xdist workers (each with a PostgreSQL database of its own: tests/conftest.py).
# Reports need Pango (WeasyPrint) and their tests pdftotext: installed first when missing.
TEST_WORKERS ?= 2
test: $(STAMP)
	$(PY) scripts/system_packages.py
	$(PY) scripts/with_postgres.py $(PY) -m pytest -n $(TEST_WORKERS) --dist load $(PYTEST_ARGS)
	$(MAKE) --no-print-directory test-lowest

# The fast subset on the lowest allowed versions, on SQLite and PostgreSQL.
test-lowest: $(LOWEST_STAMP)
	$(PYTHON) scripts/system_packages.py
	$(PYTHON) scripts/with_postgres.py $(LOWEST)/bin/python -m pytest $(LOWEST_TESTS)

clean:
	rm -rf $(VENV) $(LOWEST) $(UV_VENV) *.egg-info
