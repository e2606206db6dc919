# Two commands on a fresh machine with Python 3.11+:
#   make demo   virtual env + install + init + demo data, then serve on http://127.0.0.1:8080
#   make test   virtual env + install with test tools, then the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
DEMO := demo/ssefed.toml

.PHONY: demo test install install-test clean-demo

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

test: install-test
	$(BIN)/python -m pytest $(PYTEST_ARGS)

clean-demo:
	rm -rf demo
