# Two commands on a fresh machine with Python 3.11+:
#   make demo   virtual env + install + init + demo data, then serve on http://127.0.0.1:8080
#   make test   virtual env + install with test tools, then the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo/ssefed.toml

.PHONY: demo test install install-test browser clean-demo

$(BIN)/python:
	$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "ssefed needs Python 3.11 or newer")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

demo: install
	$(BIN)/ssefed --config $(DEMO) init --base-url http://127.0.0.1:8080 \
	  --name "Réseau ESS des Hautes-Vallées" --handle hautes-vallees
	$(BIN)/ssefed --config $(DEMO) demo
	$(BIN)/ssefed --config $(DEMO) serve

# The browser tests drive Debian's Chromium: install chromium and chromium-driver when
# they are missing (as root, or through sudo without a password), else stop and say so.
CHROMIUM_PACKAGES := chromium chromium-driver
CHROMIUM ?= /usr/bin/chromium
CHROMEDRIVER ?= /usr/bin/chromedriver
browser:
	@if [ ! -x $(CHROMIUM) ] || [ ! -x $(CHROMEDRIVER) ]; then \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; elif sudo -n true 2>/dev/null; then SUDO="sudo -n"; \
	  else echo "make test: the browser tests need Debian's $(CHROMIUM_PACKAGES) (/usr/bin/chromium," \
	    "/usr/bin/chromedriver); install them with: sudo apt-get install -y $(CHROMIUM_PACKAGES)" >&2; exit 1; fi; \
	  if ! command -v apt-get >/dev/null; then echo "make test: no apt-get here; install" \
	    "Chromium and its chromedriver as /usr/bin/chromium and /usr/bin/chromedriver" >&2; exit 1; fi; \
	  echo "make test: installing $(CHROMIUM_PACKAGES) for the browser tests"; \
	  $$SUDO apt-get update -qq && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    $(CHROMIUM_PACKAGES) >/dev/null || { echo "make test: apt-get could not install" \
	    "$(CHROMIUM_PACKAGES)" >&2; exit 1; }; \
	fi

test: install-test browser
	$(BIN)/ruff check src tests bench migrations
	$(BIN)/lint-imports --no-cache
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-demo:
	rm -rf demo
