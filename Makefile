# DispatchDesk developer commands. Needs only Python 3.11+ on the PATH.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
DEV_ENV := DJANGO_DEBUG=1

.PHONY: run test fuzz lint format migrate demo schema bench bench-import clean

$(VENV)/.installed: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	touch $@

## run: install, migrate SQLite, load demo data into an empty database, serve on :8000
run: demo
	$(DEV_ENV) $(PY) manage.py runserver 127.0.0.1:8000

## migrate: apply the migrations to the development SQLite
migrate: $(VENV)/.installed
	$(DEV_ENV) $(PY) manage.py migrate --noinput

## demo: load the demo data into an empty development database
demo: migrate
	$(DEV_ENV) $(PY) manage.py seed_demo

## test: the whole suite (SQLite, or PostgreSQL when DATABASE_URL is set)
test: $(VENV)/.installed
	$(PY) -m pytest

## fuzz: a long schemathesis run over every operation and role (the suite runs a short one);
## on PostgreSQL when DATABASE_URL is set
fuzz: $(VENV)/.installed
	FUZZ_MAX_EXAMPLES=$${FUZZ_MAX_EXAMPLES:-150} $(PY) -m pytest dispatchdesk/tests/test_fuzz.py -v

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: $(VENV)/.installed
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

schema: $(VENV)/.installed
	$(DEV_ENV) $(PY) manage.py spectacular --validate --fail-on-warn --file docs/openapi.yaml

## bench: short API load test on PostgreSQL (10,000 tickets, 9 s a scenario; needs wrk);
## the full run is in docs/benchmarks.md, the options in bench/README.md
bench: $(VENV)/.installed
	$(PY) bench/api/run.py --tickets 10000 --duration 9 $(BENCH_ARGS)

## bench-import: time import_tickets on 100,000 new tickets against PostgreSQL's own COPY
## (BENCH_DATABASE_URL, default postgres://postgres@127.0.0.1:5432/dispatchdesk_bench)
bench-import: $(VENV)/.installed
	$(PY) bench/import/run.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
