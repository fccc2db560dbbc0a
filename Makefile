# Switchboard — the two commands that matter: `make run` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
PORT   ?= 8000
# The PBX simulator of `make run`: 0 takes any free port (never the server's).
SIM_PORT ?= 0
STAMP  := $(VENV)/.installed

.PHONY: install run test test-sqlite test-postgresql bench chromium clean messages chaos chaos-run mutation properties-long chaos-api

$(STAMP): pyproject.toml constraints.txt
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -c constraints.txt -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: install
	$(BIN)/switchboard run --port $(PORT) --sim-port $(SIM_PORT)

chromium:
	@test -x /usr/bin/chromium || { echo "Installing Debian's chromium for the browser tests"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; }

test: install chromium
	$(BIN)/python -m switchboard.testing.run_all $(ARGS)

bench: install
	$(BIN)/python -m switchboard.bench

# The long reliability runs (docs/reliability.md). chaos-run: 1,000 users configured
# through the API while processes are killed, on a private PostgreSQL cluster of its own
# (initdb in a temporary directory, restarted mid-run, removed at the end; never the
# shared server). Extra options: make chaos CHAOS_ARGS="--users 200 --seed 3".
chaos: chaos-run mutation chaos-api

chaos-run: install
	$(BIN)/python -m switchboard.testing.chaos --users 1000 --write-docs docs/reliability.md $(CHAOS_ARGS)

# Mutation testing (docs/reliability.md): mutmut on the pin policy, the validators and the
# span arithmetic ([tool.mutmut] in pyproject.toml), at low priority; then the score of
# each module, which must be at least 80 % killed.
mutation: install
	rm -rf mutants
	HYPOTHESIS_PROFILE=mutation nice -n 10 $(BIN)/mutmut run --max-children $(or $(MUTATION_CHILDREN),2) >mutants.log 2>&1 \
	  || { tail -40 mutants.log; exit 1; }
	$(BIN)/python -m switchboard.testing.mutation_report --min 80 --write-docs docs/reliability.md

# The Hypothesis properties with many more examples (fresh randomness each run).
properties-long: install
	HYPOTHESIS_PROFILE=long nice -n 10 $(BIN)/python -m pytest -q tests/properties

# Schemathesis over the whole API, long (docs/reliability.md): every phase for every role,
# API_EXAMPLES fuzzed examples per operation and role, a new draw each run, on SQLite then
# PostgreSQL. `make test` runs the same file short.
API_EXAMPLES ?= 100

chaos-api: install
	SWITCHBOARD_API_LONG=1 SWITCHBOARD_API_EXAMPLES=$(API_EXAMPLES) \
	  $(BIN)/python -m switchboard.testing.run_all tests/http/test_schemathesis.py -s -p no:cacheprovider

clean:
	rm -rf $(VENV) var test-output mutants mutants.log

messages: install
	$(BIN)/python -m switchboard.i18n_catalog update
