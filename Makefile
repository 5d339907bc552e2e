# The README's two commands: `make demo` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: demo test install migrate bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

migrate: $(STAMP)
	$(PY) -m bot migrate

# The sandbox migrates and seeds its own file (sandbox.db): nothing .env names is touched.
demo: $(STAMP)
	$(PY) -m bot sandbox

# The whole suite on SQLite and on a throwaway PostgreSQL server (DATABASE_URL_PG skips it).
# Reports need Pango (WeasyPrint) and their tests pdftotext: installed first when missing.
test: $(STAMP)
	$(PY) scripts/system_packages.py
	$(PY) scripts/with_postgres.py $(PY) -m pytest $(PYTEST_ARGS)

clean:
	rm -rf $(VENV) *.egg-info
