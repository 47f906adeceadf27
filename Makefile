# The two commands a new machine needs: `make run` and `make test`. Both set up everything.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
# Development server settings; production reads its own environment (see README).
DEV_ENV := DEBUG=true
PYTEST_ARGS ?= -n auto

.PHONY: install install-dev run test lint migrations-check audit clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.runtime: $(BIN)/python requirements.txt
	$(BIN)/pip install --quiet -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(BIN)/pip install --quiet -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime
install-dev: $(VENV)/.dev

run: install
	$(DEV_ENV) $(BIN)/python manage.py migrate --noinput
	$(DEV_ENV) $(BIN)/python manage.py seed_demo
	@echo
	@echo "Service on http://127.0.0.1:8000/ (SQLite, demo data, DEBUG on). To get a client, in another shell:"
	@echo "  DEBUG=true $(BIN)/python manage.py create_client --name demo --role manager"
	@echo "It prints client_id, client_secret and api_key once. Then get a token:"
	@echo "  curl -s -u CLIENT_ID:CLIENT_SECRET -H 'X-API-Key: API_KEY' -d grant_type=client_credentials http://127.0.0.1:8000/oauth/token/"
	@echo "and read customers: curl -s -H 'Authorization: Bearer TOKEN' http://127.0.0.1:8000/api/v1/customers/"
	@echo "API docs: http://127.0.0.1:8000/api/docs/   Admin: http://127.0.0.1:8000/admin/ (manage.py createsuperuser)"
	@echo
	$(DEV_ENV) $(BIN)/python manage.py runserver 127.0.0.1:8000

# openid-client for the Node black-box check; skipped (the test says so) where npm is missing.
NODE_CLIENT := tests/e2e/node/node_modules/.package-lock.json

$(NODE_CLIENT): tests/e2e/node/package-lock.json
	if command -v npm >/dev/null; then cd tests/e2e/node && npm ci --silent --no-audit --no-fund; fi

# oidc-provider, the external OAuth2 provider of tests/providers; skipped there where npm is missing.
OIDC_PROVIDER := tests/providers/node/node_modules/.package-lock.json

$(OIDC_PROVIDER): tests/providers/node/package-lock.json
	if command -v npm >/dev/null; then cd tests/providers/node && npm ci --silent --no-audit --no-fund; fi

test: install-dev $(NODE_CLIENT) $(OIDC_PROVIDER)
	$(BIN)/pytest $(PYTEST_ARGS)

lint: install-dev
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

migrations-check: install-dev
	$(DEV_ENV) $(BIN)/python manage.py makemigrations --check --dry-run

# Known vulnerabilities in the installed packages; says SKIPPED where the service is unreachable.
audit: install-dev
	$(BIN)/python .ci/audit.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache .hypothesis

# Benchmarks (bench/run.py): every scenario as a ratio to a bare Django view, on one gunicorn
# worker; SQLite under bench/results/ unless DATABASE_URL is set. Needs wrk (installed when root).
# bench-instructions: instructions per request under valgrind, the same from run to run.
.PHONY: bench bench-growth bench-instructions

bench: install-dev
	$(BIN)/python bench/run.py

bench-growth: install-dev
	$(BIN)/python bench/run.py --growth

bench-instructions: install-dev
	$(BIN)/python bench/instructions.py
