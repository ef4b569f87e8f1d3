# saltext-turnup: `make setup`, `make demo`, `make test`, `make lint`, `make bench`
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
PYTEST_ARGS ?=

.PHONY: setup salt3007 demo demo-keep test test-unit test-functional test-integration test-live test-live-standin lint format bench clean

$(VENV)/.installed: setup.cfg pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(PIP) install -q --upgrade "pip>=23"
	$(PIP) install -q -c constraints.txt -e ".[tests,dev]"
	touch $@

setup: $(VENV)/.installed

# Salt 3007.8 in its own venv: the baseline of bench/pillar_bench.py and of the compat test that runs
# Salt 3007.8's own netbox pillar beside ours (tests/functional/test_pillar_salt3007.py).
salt3007: setup
	$(PY) -c "import sys; sys.path.insert(0, 'bench'); import pillar_bench; pillar_bench.salt3007_python(None)"

demo: setup
	$(PY) -m tests.support.demo

# the demo, left running: prints the commands to paste and how to stop it and clean up
demo-keep: setup
	$(PY) -m tests.support.demo --keep

test: setup salt3007
	$(PY) -m pytest tests $(PYTEST_ARGS)

test-unit: setup
	$(PY) -m pytest tests/unit $(PYTEST_ARGS)

test-functional: setup
	$(PY) -m pytest tests/functional $(PYTEST_ARGS)

test-integration: setup
	$(PY) -m pytest tests/integration $(PYTEST_ARGS)

# The functional and integration tiers against a real NetBox (NETBOX_URL, NETBOX_TOKEN; write tests
# only with NETBOX_ALLOW_WRITES=1), failing if the run leaves objects behind. README "Tests".
test-live: setup
	@test -n "$(NETBOX_URL)" -a -n "$(NETBOX_TOKEN)" || { echo "make test-live needs NETBOX_URL and NETBOX_TOKEN (and NETBOX_ALLOW_WRITES=1 for the tests that write)"; exit 2; }
	NETBOX_URL="$(NETBOX_URL)" NETBOX_TOKEN="$(NETBOX_TOKEN)" $(PY) -m tests.support.live_check -- tests/functional tests/integration $(PYTEST_ARGS)

# The same against a stand-in in a separate process, as if it were a real NetBox (writes allowed).
test-live-standin: setup
	env -u NETBOX_URL -u NETBOX_TOKEN $(PY) -m tests.support.live_check -- tests/functional tests/integration $(PYTEST_ARGS)

lint: setup
	$(VENV)/bin/black --check salt_ext tests bench
	$(VENV)/bin/isort --check-only salt_ext tests bench
	$(VENV)/bin/ruff check salt_ext tests bench

format: setup
	$(VENV)/bin/isort salt_ext tests bench
	$(VENV)/bin/black salt_ext tests bench

bench: setup
	$(PY) bench/pillar_bench.py
	$(PY) bench/reactor_bench.py

# Rebuild salt_ext/utils/netbox/model/schema_meta.py from a NetBox OpenAPI schema file (a new NetBox
# release: review MODELLED and MODEL_DEFAULTS in the script); schema-meta-check only compares.
SCHEMA ?= ../shared/fixtures/netbox/openapi-4.6.8.json
.PHONY: schema-meta schema-meta-check
schema-meta: setup
	$(PY) -m tests.support.gen_schema_meta $(SCHEMA)

schema-meta-check: setup
	$(PY) -m tests.support.gen_schema_meta --check $(SCHEMA)

clean:
	rm -rf $(VENV) build dist *.egg-info .pytest_cache .demo
