# Two commands for a newcomer: `make run` and `make test`. See README.md.
SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
# An interpreter of 3.12 or newer: the one .python-version names through pyenv, else the newest
# on PATH, else the newest pyenv installs (also when pyenv itself is not on PATH).
PYTHON ?= $(shell for p in "$$(pyenv which python 2>/dev/null)" python3.14 python3.13 python3.12 \
	$$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.1[2-9]*/bin/python 2>/dev/null | sort -V -r) python3; do \
	command -v "$$p" >/dev/null 2>&1 && "$$p" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null \
	&& { command -v "$$p"; break; }; done)

.PHONY: run test lint format bench messages lock clean help

# make run PORT=8001: serve on another port; mails, .ics and invitation links follow it.
PORT ?= 8000

help:
	@echo "make run    set up (.venv, migrations, demo data) and serve http://127.0.0.1:8000 (PORT=...)"
	@echo "make test   set up and run the whole test suite"
	@echo "make lint   ruff check, format check and mypy (django-stubs)"
	@echo "make bench  measure page speed on the ten-fold demo data"

$(BIN)/python:
	@if [ -n "$(PYTHON)" ]; then "$(PYTHON)" -m venv $(VENV); \
	elif command -v uv >/dev/null 2>&1; then uv venv --seed --python 3.13 $(VENV); \
	else echo "Python 3.12 or newer is needed (or uv). See README.md." >&2; exit 1; fi
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/python -m pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/python -m pip install --quiet -r requirements-dev.txt
	touch $@

run: $(VENV)/.runtime
	$(BIN)/python manage.py migrate --noinput
	$(BIN)/python manage.py seed_demo
	@echo ""
	@echo "Kwaliteitsnetwerk draait op http://127.0.0.1:$(PORT) — demo-accounts (wachtwoord: demo-wachtwoord):"
	@echo "  bureau@kwaliteitsnetwerk.example  (bureaumedewerker)"
	@echo "  trekker@deltion.example           (coalitietrekker)"
	@echo "  lid@albeda.example                (lid)"
	@echo ""
	SITE_URL=$${SITE_URL:-http://127.0.0.1:$(PORT)} $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

# The Nu HTML checker for the browser tests (runs on Java; from the npm registry).
VNU_VERSION := 26.9.27
VNU_JAR := .cache/vnu/node_modules/vnu-jar/build/dist/vnu.jar
$(VNU_JAR):
	npm install --prefix .cache/vnu --no-audit --no-fund --silent vnu-jar@$(VNU_VERSION)

test: $(VENV)/.dev $(VNU_JAR)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy members coalitions events kwaliteitsnetwerk

format: $(VENV)/.dev
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Ten-fold demo data, seeded once into its own PostgreSQL database (kn_bench on this machine's
# server; DATABASE_URL=... make bench for another): the pages over HTTP with gunicorn and wrk,
# the sign-up burst and the reminder sweep. REDIS_URL=redis://... for the production cache.
BENCH_DATABASE_URL ?= $(or $(DATABASE_URL),postgres://postgres@127.0.0.1:5432/kn_bench)
bench: $(VENV)/.dev
	@if [ "$(BENCH_DATABASE_URL)" = "postgres://postgres@127.0.0.1:5432/kn_bench" ]; then \
	  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'kn_bench'" postgres | grep -q 1 \
	  || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE kn_bench" postgres; fi
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py migrate --noinput
	DATABASE_URL=$(BENCH_DATABASE_URL) $(BIN)/python manage.py bench

messages: $(VENV)/.runtime
	$(BIN)/python manage.py makemessages -l nl -l en --no-obsolete --add-location file
	$(BIN)/python manage.py compilemessages --ignore=.venv

lock:
	rm -rf /tmp/kn-lock && "$(PYTHON)" -m venv /tmp/kn-lock
	/tmp/kn-lock/bin/pip install --quiet .
	/tmp/kn-lock/bin/pip freeze --exclude kwaliteitsnetwerk > requirements.txt
	/tmp/kn-lock/bin/pip install --quiet ".[dev]"
	/tmp/kn-lock/bin/pip freeze --exclude kwaliteitsnetwerk | grep -vxF -f requirements.txt \
		| sed '1i -r requirements.txt' > requirements-dev.txt

clean:
	rm -rf $(VENV) db.sqlite3 staticfiles
