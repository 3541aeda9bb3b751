# Two commands on a fresh machine: `make demo` and `make test`. Everything else is a helper.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo dev stop test lint format venv lock clean preview-emails bench-seeds bench-chaos bench-events bench-cost \
	bench-api bench-cpu bench-memory screenshots

UV_VERSION := 0.13.9

# From the lock file (every version pinned, every file hashed): uv installs it in seconds; the project itself
# goes in editable, without resolving anything again.
$(STAMP): pyproject.toml requirements/dev.lock
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)
	$(VENV)/bin/uv pip install --quiet --python $(PY) --require-hashes -r requirements/dev.lock
	$(VENV)/bin/uv pip install --quiet --python $(PY) --no-deps -e .
	touch $(STAMP)

venv: $(STAMP)

## The legacy $150,000 closure end to end on the local stack; exits non-zero unless it completed cleanly.
demo: $(STAMP)
	$(PY) -m devtools.demo

## The long-running local stack (Temporal + UI, simulator, worker, API); pieces restart, state in .data/dev.
dev: $(STAMP)
	$(PY) -m devtools.devstack run

## Stop the stack `make dev` started (from another terminal).
stop: $(STAMP)
	$(PY) -m devtools.devstack stop

## Lint, type-check and the whole test suite (starts a throwaway Redis if none is running, installs Chromium).
test: $(STAMP) lint
	scripts/ensure-redis
	scripts/ensure-test-tools
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports

## The seeded simulation over many seeds (SEEDS=FIRST:LAST); a failing seed prints its replay command.
SEEDS ?= 0:200
bench-seeds: $(STAMP)
	$(PY) -m bench.seeded_simulation --seeds $(SEEDS)

## Real-process chaos: 200 closures, workers SIGKILLed, the dev server restarted (SEED=N).
SEED ?= 1
bench-chaos: $(STAMP)
	$(PY) -m devtools.chaos --seed $(SEED) --closures 200

## Broker event to closure action, with the event listener, without it and across its restart (docs/performance.md).
bench-events: $(STAMP)
	$(PY) -m bench.event_latency --closures 4 --write docs/performance.md

## One closure's broker calls, history and time over the broker's timeline, beside the legacy design's.
bench-cost: $(STAMP)
	$(PY) -m bench.closure_cost --write docs/performance.md

## The progress endpoint under wrk, beside a no-op route of the same app (needs wrk and Redis).
bench-api: $(STAMP)
	scripts/ensure-redis
	$(PY) -m bench.api_progress --write docs/performance.md

## The worker's CPU per closure, beside a workflow repeating the closure's shape (docs/performance.md).
bench-cpu: $(STAMP)
	$(PY) -m bench.worker_cpu --closures 3 --write docs/performance.md

## Closures in their 24 h wait: worker memory and idle CPU, and the replay of an evicted one (CLOSURES=N).
CLOSURES ?= 2000
bench-memory: $(STAMP)
	$(PY) -m bench.worker_memory --closures $(CLOSURES)

## The web pages at desktop and phone widths, from the browser tests, into docs/screenshots/.
screenshots: $(STAMP)
	scripts/ensure-redis
	scripts/ensure-test-tools
	CLOSURE_SCREENSHOTS=docs/screenshots $(PY) -m pytest -q tests/api/test_customer_page.py tests/api/test_ops_dashboard.py

## Every email rendered with sample data into .data/email-preview/.
preview-emails: $(STAMP)
	$(PY) -m devtools.email_preview

## Pin every dependency again from pyproject.toml (requirements/dev.lock for make, CI and development;
## requirements/prod.lock for the image).
lock: $(STAMP)
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet \
		--custom-compile-command "make lock" -o requirements/dev.lock
	$(VENV)/bin/uv pip compile pyproject.toml --extra ses --extra supabase --extra otel --python-version 3.11 \
		--generate-hashes --quiet --custom-compile-command "make lock" -o requirements/prod.lock

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) .data .pytest_cache .mypy_cache .ruff_cache
