# closedwon — the two commands: `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
PORT ?= 8000
HOST ?= 127.0.0.1
# Quoted everywhere: the clone's path may contain spaces.
UV := $(shell command -v uv 2>/dev/null || echo "$(CURDIR)/.tools/bin/uv")
RUN := "$(UV)" run --frozen --no-sync
DEMO_SECRET := whsec_ZGVtby1yZWNlaXZlci1zZWNyZXQtZm9yLWNsb3NlZHdvbg==
TEST_SECRET := test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz-closedwon

# The embedded default: SQLite + Celery filesystem broker, demo receiver on.
RUN_ENV := PYTHONUNBUFFERED=1 DEBUG=1 DEMO_RECEIVER=1 PORT=$(PORT) HOST=$(HOST) \
	HANDOFF_BILLING_URL=http://127.0.0.1:$(PORT)/demo/receiver/billing/ HANDOFF_BILLING_SECRET=$(DEMO_SECRET) \
	HANDOFF_PROVISIONING_URL=http://127.0.0.1:$(PORT)/demo/receiver/provisioning/ HANDOFF_PROVISIONING_SECRET=$(DEMO_SECRET) \
	HANDOFF_CUSTOMER_SUCCESS_URL=http://127.0.0.1:$(PORT)/demo/receiver/customer_success/ HANDOFF_CUSTOMER_SUCCESS_SECRET=$(DEMO_SECRET) \
	HANDOFF_COMMISSION_URL=http://127.0.0.1:$(PORT)/demo/receiver/commission/ HANDOFF_COMMISSION_SECRET=$(DEMO_SECRET) \
	DEMO_RECEIVER_SECRET=$(DEMO_SECRET)

# Tests: production mode (DEBUG off) against DATABASE_URL / CELERY_BROKER_URL, which
# default to the local PostgreSQL and Redis.
TEST_ENV := CLOSEDWON_ENV_FILE=/dev/null SECRET_KEY=$${SECRET_KEY:-$(TEST_SECRET)} SECURE_SSL_REDIRECT=0 SESSION_COOKIE_SECURE=0 CSRF_COOKIE_SECURE=0 \
	DATABASE_URL=$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/closedwon} \
	CELERY_BROKER_URL=$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0} \
	STATIC_ROOT="$(CURDIR)/var/test-static" DJANGO_ALLOW_ASYNC_UNSAFE=true

.PHONY: run test env dev-env uv port-free lint typecheck bench graph clean

uv:
	@if [ ! -x "$(UV)" ]; then \
		echo "uv not found: bootstrapping it into .tools/ with pip…"; \
		$(PYTHON) -m venv .tools && .tools/bin/pip install --quiet uv; \
	fi

env: uv
	"$(UV)" sync --frozen --no-dev --inexact

dev-env: uv
	"$(UV)" sync --frozen

# A local.env for the embedded default: a generated SECRET_KEY and DEBUG=1, so every
# manage.py command in the README also works from a second terminal. Never overwritten.
# Not named .env: docker-compose reads .env, and the production stack must not get DEBUG=1.
local.env:
	@$(PYTHON) -c "import secrets; print('DEBUG=1'); print('SECRET_KEY=' + secrets.token_urlsafe(50))" > local.env
	@echo "Wrote local.env (DEBUG=1 and a generated SECRET_KEY) for manage.py commands."

port-free:
	@$(PYTHON) -c "import socket, sys; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); r = s.connect_ex(('$(HOST)', $(PORT))); s.close(); sys.exit(0 if r else 1)" \
		|| { echo "Port $(PORT) on $(HOST) is busy: stop what uses it, or run e.g. make run PORT=8001"; exit 1; }

## make run: set up and run web + worker + beat on the embedded default (Ctrl-C stops all)
run: port-free env local.env
	@$(RUN_ENV) $(RUN) python manage.py migrate --noinput
	@$(RUN_ENV) $(RUN) python manage.py seed_demo
	@echo ""
	@echo "closedwon is starting on http://$(HOST):$(PORT)/  (reps: /pipeline/, RevOps: /admin/)"
	@echo ""
	@$(RUN_ENV) exec $(RUN) honcho start -f Procfile

## make test: the whole suite (PostgreSQL + Redis, real Celery workers, headless Chromium)
test: dev-env
	bash scripts/ensure-system-packages.sh
	bash scripts/ensure-services.sh
	$(TEST_ENV) $(RUN) python manage.py collectstatic --noinput -v 0
	$(TEST_ENV) $(RUN) ruff check .
	$(TEST_ENV) $(RUN) ruff format --check .
	$(TEST_ENV) $(RUN) mypy .
	$(TEST_ENV) $(RUN) lint-imports
	$(TEST_ENV) $(RUN) pytest $(PYTEST_ARGS)

lint: dev-env
	$(RUN) ruff check . && $(RUN) ruff format --check .

typecheck: dev-env
	$(TEST_ENV) $(RUN) mypy .
	$(TEST_ENV) $(RUN) lint-imports

graph: dev-env
	DEBUG=1 $(RUN) python manage.py graph_transitions -o docs/stages.png opportunities.Opportunity

bench: dev-env
	bash scripts/ensure-services.sh
	$(TEST_ENV) $(RUN) python bench/run_all.py

clean:
	rm -rf var staticfiles .venv .tools
