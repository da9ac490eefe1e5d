# Two entry points a fresh machine needs: `make demo` and `make test`.
# Each installs what it uses: a venv with oauthcli[dev], the local OpenID
# provider's npm packages, and (for browser tests, or a demo without a
# display) Debian's chromium and chromium-driver.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
NODE_STAMP := tests/provider/node_modules/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo test lint typecheck unit install provider browser kubectl clean bench

install: $(PY_STAMP)

$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

provider: $(NODE_STAMP)

$(NODE_STAMP): tests/provider/package.json tests/provider/package-lock.json
	cd tests/provider && npm ci --no-audit --no-fund --loglevel=error
	touch $@

# Debian's chromium + chromedriver (Selenium is pointed at them, so nothing
# is downloaded at test time), and kubectl (Debian's kubernetes-client) for
# the test that has kubectl call `oauthcli token --format exec-credential`.
browser:
	@missing=""; \
	command -v chromedriver >/dev/null 2>&1 || missing="$$missing chromium-driver"; \
	{ command -v chromium >/dev/null 2>&1 || [ -x /usr/lib/chromium/chromium ]; } || \
	  missing="$$missing chromium"; \
	if [ -n "$$missing" ]; then \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	else echo "chromium and chromedriver are installed"; fi

kubectl:
	@if command -v kubectl >/dev/null 2>&1; then echo "kubectl is installed"; else \
	  $(SUDO) apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq kubernetes-client; \
	fi

lint: $(PY_STAMP)
	$(BIN)/ruff check src tests scripts bench
	$(BIN)/ruff format --check src tests scripts bench

typecheck: $(PY_STAMP)
	$(BIN)/mypy

unit: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/pytest

test: install provider browser kubectl lint typecheck unit

demo: install provider
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(MAKE) --no-print-directory browser; fi
	$(BIN)/python scripts/demo.py

clean:
	rm -rf $(VENV) tests/provider/node_modules .mypy_cache .ruff_cache .pytest_cache

# The benchmarks (bench/): cached token, refresh, login, concurrency and
# import time, side by side with peers, in one run against the local
# provider. Prints the table; writes bench/results/ (JSON, Markdown, PNGs).
# Ratios within the run, not absolute times, are what count.
bench: $(BENCH_STAMP) $(NODE_STAMP)
	$(BIN)/python bench/run_all.py

$(BENCH_STAMP): $(PY_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[dev,bench]'
	touch $@
