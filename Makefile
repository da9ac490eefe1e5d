# Two entry points a fresh machine needs: `make demo` and `make test`.
# Each installs what it uses: a venv with oauthcli[dev,fuzz], the local OpenID
# provider's npm packages, and (for browser tests, or a demo without a
# display) Debian's chromium and chromium-driver.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
PY_STAMP := $(VENV)/.installed
BENCH_STAMP := $(VENV)/.installed-bench
FUZZ_STAMP := $(VENV)/.installed-fuzz
FUZZ_SECONDS ?= 300
NODE_STAMP := tests/provider/node_modules/.installed
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

.PHONY: demo provider-up test lint typecheck unit install provider browser kubectl clean bench fuzz

install: $(PY_STAMP)

# The fuzz extra (atheris) too, for the few-second fuzz smoke test. It has
# wheels for Linux x86_64 only: elsewhere pip would try to build libFuzzer, so
# it is left out with a note and tests/test_fuzz_smoke.py skips.
$(PY_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m pip install --quiet --only-binary atheris -e '.[fuzz]' || \
	  echo "note: no atheris wheel for this platform; the fuzz smoke test skips"
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
	$(BIN)/ruff check src tests scripts bench fuzz
	$(BIN)/ruff format --check src tests scripts bench fuzz

typecheck: $(PY_STAMP)
	$(BIN)/mypy

unit: $(PY_STAMP) $(NODE_STAMP)
	$(BIN)/pytest

test: install provider browser kubectl lint typecheck unit

demo: install provider
	@if [ -z "$$DISPLAY$$WAYLAND_DISPLAY" ]; then $(MAKE) --no-print-directory browser; fi
	$(BIN)/python scripts/demo.py

# The local provider alone, until Ctrl-C, to try oauthcli by hand: prints
# the issuer, the client ID and the lines that set up a shell for it.
provider-up: install provider
	$(BIN)/python scripts/demo.py --keep

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

# The fuzzers (fuzz/): the loopback listener's request handling and the token
# response parser, each under atheris for FUZZ_SECONDS (default 5 minutes) on
# a corpus kept in fuzz/work/. Prints runs, corpus, crashes and hangs per
# harness (also fuzz/work/results.json) and fails if anything was found. Run
# on purpose, not by `make test`, which runs a few-second smoke of the same.
fuzz: $(FUZZ_STAMP)
	$(BIN)/python fuzz/run.py --seconds $(FUZZ_SECONDS)

$(FUZZ_STAMP): $(PY_STAMP) pyproject.toml
	$(BIN)/python -m pip install --quiet --only-binary atheris -e '.[fuzz]'
	touch $@
