# civgrid: `make demo` runs the demo, `make test` runs every test. Both install
# what is missing first (system packages, the Python venv, the front-end assets).
VENV ?= .venv
PY := $(VENV)/bin/python
PYTHON ?= python3
STATIC := webmap/static

.PHONY: install install-test demo test bench lint clean

MO := webmap/translations/zh/LC_MESSAGES/messages.mo

install: .make/system $(VENV)/.installed $(STATIC)/node_modules/.installed $(MO)

install-test: install .make/system-test

.make/system: scripts/install-system-deps.sh
	scripts/install-system-deps.sh
	@mkdir -p .make && touch $@

.make/system-test: scripts/install-system-deps.sh
	scripts/install-system-deps.sh test
	@mkdir -p .make && touch $@

$(VENV)/.installed: setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

$(STATIC)/node_modules/.installed: $(STATIC)/package.json $(STATIC)/package-lock.json
	npm ci --prefix $(STATIC) --no-audit --no-fund --loglevel=error
	@touch $@

$(MO): webmap/translations/zh/LC_MESSAGES/messages.po $(VENV)/.installed
	$(VENV)/bin/pybabel compile -d webmap/translations

demo: install
	$(VENV)/bin/civgrid demo

test: install-test
	$(VENV)/bin/pytest

bench: install
	$(PY) scripts/bench/run_all.py

clean:
	rm -rf .make $(VENV) $(STATIC)/node_modules
