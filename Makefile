# Tripline: everything a newcomer needs, from a fresh clone with only Python 3.11+ and make.
SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3)
VENV ?= .venv
PY := $(VENV)/bin/python
PACKAGES := shared deploy/devstack deploy/ops services/inventory services/bookings services/payments services/search
STAMP := $(VENV)/.installed
SUB ?= alice
ROLE ?= customer
STATE_DIR ?= .dev
SERVICE ?= search
ARGS ?= --help

.PHONY: help install run up down status test lint token cli audit demo bench

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

$(STAMP): constraints.txt requirements-dev.txt $(addsuffix /pyproject.toml,$(PACKAGES))
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11) and "Python 3.11+ is required (set PYTHON=...)")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt pip setuptools
	$(PY) -m pip install --quiet --disable-pip-version-check -c constraints.txt --no-build-isolation \
		-r requirements-dev.txt $(addprefix -e ,$(PACKAGES))
	touch $@

install: $(STAMP) ## create .venv with every package and tool, pinned by constraints.txt

run: install ## start the whole platform in the foreground with demo data; Ctrl-C stops it all
	$(PY) -m devstack run

up: install ## the same in the background; returns once every service is ready
	$(PY) -m devstack up

down: install ## stop everything `make up` started
	$(PY) -m devstack down

status: install ## what runs, and on which ports
	$(PY) -m devstack status

test: install ## every test: unit, integration against real PostgreSQL and NATS, end to end
	$(PY) -m pytest

bench: install ## the benchmarks on the running stack (or one started for the run); a table, and JSON in bench/results
	$(PY) -m bench $(BENCH_ARGS)

lint: install ## ruff and mypy
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy shared/src deploy/devstack/src deploy/ops/src services/*/src

token: install ## print a development token: make token SUB=alice ROLE=customer
	@$(VENV)/bin/tripline-token --sub "$(SUB)" --role "$(ROLE)"

ON_STACK = @test -f "$(STATE_DIR)/stack.env" || { echo "no stack in $(STATE_DIR): start it with make up" >&2; exit 1; }; \
	$(VENV)/bin/honcho run -e "$(STATE_DIR)/stack.env" $(PY) -m

cli: install ## a service's operator command on the running stack: make cli SERVICE=search ARGS=rebuild
	$(ON_STACK) $(SERVICE).entrypoints.cli $(ARGS)

audit: install ## check the invariants across services on the running stack; exit 1 and a report on a violation
	$(ON_STACK) tripline_ops.audit

demo: install ## a narrated walk-through on the running stack: search, book, pay, cancel, refund
	$(ON_STACK) tripline_ops.demo
