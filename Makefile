# CityBrain: the two commands are `make demo` and `make test`. Everything else installs itself.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

export DAGSTER_HOME   := $(CURDIR)/.dagster_home
export CITYBRAIN_LAKE ?= $(CURDIR)/lake
export PYTHONPATH     := $(CURDIR)
export CITYBRAIN_TRUTH ?= $(CURDIR)/truth
# The key that tokenises shared columns: made once per checkout in .secrets/ (never committed).
SHARE_KEY_FILE := .secrets/share_key
export CITYBRAIN_SHARE_KEY ?= $(shell test -s $(SHARE_KEY_FILE) || \
	(mkdir -p .secrets && umask 077 && $(PYTHON) -c 'import secrets; print(secrets.token_hex(32))' > $(SHARE_KEY_FILE)); \
	cat $(SHARE_KEY_FILE))

SCALE ?= 0.01
DAYS  ?= 2
SEED  ?= 1
START ?= 2026-11-16
LAST  := $(shell date -d "$(START) + $(DAYS) days - 1 day" +%F)

.PHONY: demo test ui reports share-server profiles browser-deps bench lint format install \
	dagster-home simulate clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip uv

$(STAMP): pyproject.toml | $(BIN)/python
	@# Bytecode compiled at install: imports stay fast even where PYTHONDONTWRITEBYTECODE is set.
	$(BIN)/uv pip install --quiet --compile-bytecode --python $(BIN)/python -e '.[test,lint]'
	touch $@

# The dbt manifest Dagster loads the city model from, re-parsed whenever the project changes.
MANIFEST := dbt_project/target/manifest.json
$(MANIFEST): $(STAMP) $(shell find dbt_project -name '*.sql' -o -name '*.yml' -o -name '*.csv' | grep -v /target/)
	cd dbt_project && ../$(BIN)/dbt parse --quiet --profiles-dir .

install: $(STAMP) $(MANIFEST)

# The official Delta Sharing client pins pandas<3 and pyarrow<=23 (DESIGN.md 6): its own venv,
# used by the sharing tests and benchmark to read from our server as departments do.
SHARING_CLIENT := .venv-sharing/bin/python
$(SHARING_CLIENT):
	$(PYTHON) -m venv .venv-sharing
	PYTHONPATH= .venv-sharing/bin/pip install --quiet 'delta-sharing==1.4.2'

# Dagster keeps runs and events here; telemetry off (no phoning home). Pools (lake maintenance)
# run one step at a time across every run of the instance.
dagster-home:
	@mkdir -p $(DAGSTER_HOME)
	@printf 'telemetry:\n  enabled: false\nconcurrency:\n  pools:\n    default_limit: 1\n' \
		> $(DAGSTER_HOME)/dagster.yaml

simulate: install
	$(BIN)/python -m citysim generate --scale $(SCALE) --days $(DAYS) --seed $(SEED) --start $(START) \
		--out $(CITYBRAIN_LAKE)/landing --truth-out $(CURDIR)/truth

TODAY := $(shell TZ=Asia/Shanghai date +%F)

demo: install dagster-home simulate
	$(BIN)/dagster asset materialize -m orchestration.definitions --select 'key:reference/*'
	$(BIN)/dagster asset materialize -m orchestration.definitions --select 'tag:layer=bronze' \
		--partition $(TODAY)
	$(BIN)/dagster asset materialize -m orchestration.definitions \
		--select 'key:risk/* or key:city_model/*' --partition-range $(START)...$(LAST)
	$(BIN)/dagster asset materialize -m orchestration.definitions --select 'key:shares/*'
	$(BIN)/dagster asset materialize -m orchestration.definitions --select 'key:maintenance/*'
	@echo ""
	@echo "CityBrain demo is ready."
	@echo "  lake (Delta tables):   $(CITYBRAIN_LAKE)"
	@echo "  landing files:         $(CITYBRAIN_LAKE)/landing"
	@echo "  ingest ledger:         $(CITYBRAIN_LAKE)/ledger/files (one row per file, counts balance)"
	@echo "  check results:         $(CITYBRAIN_LAKE)/quality/check_results (Delta, every check run)"
	@echo "  data docs:             $(CITYBRAIN_LAKE)/quality/data_docs/<system>/index.html"
	@echo "  city model (DuckDB):   $(CITYBRAIN_LAKE)/warehouse/citybrain.duckdb (marts also in gold/)"
	@echo "  risk scores:           $(CITYBRAIN_LAKE)/risk/ (model cards in risk/models/, figures in risk/evaluation)"
	@echo "  shares:                $(CITYBRAIN_LAKE)/shares/<share> (make profiles, then make share-server)"
	@echo "  simulator truth:       $(CURDIR)/truth   (evaluation only)"
	@echo "  Dagster UI:            make ui, then http://127.0.0.1:3000 (sharing :8080, reports :8501)"

# The browser test drives Debian's chromium; Chinese needs the Noto CJK fonts.
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
browser-deps:
	@command -v chromium >/dev/null && fc-list | grep -qi 'Noto Sans CJK' || \
		($(SUDO) apt-get update -qq && \
		 $(SUDO) apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk)

test: install dagster-home $(SHARING_CLIENT) browser-deps
	$(BIN)/python -m pytest -q

# The Dagster UI on :3000, the Delta Sharing server on :8080 and the reports on :8501,
# stopped together.
REPORTS := $(BIN)/streamlit run apps/reports/app.py --server.headless true \
	--browser.gatherUsageStats false --client.toolbarMode minimal --server.port 8501
ui: install dagster-home
	$(BIN)/python -m apps.share_server --port 8080 & SERVER=$$!; \
	$(REPORTS) >/dev/null 2>&1 & REPORTS=$$!; \
	trap "kill $$SERVER $$REPORTS" EXIT INT TERM; \
	$(BIN)/dagster dev -h 127.0.0.1 -p 3000

# The reports alone (viewer: $$CITYBRAIN_VIEWER, else the district centre; changeable in the app).
reports: install
	$(REPORTS)

share-server: install
	$(BIN)/python -m apps.share_server --port 8080

# A token and a profile file per consumer with a grant, in profiles/ (keep them like passwords).
profiles: install
	$(BIN)/python -m assets.sharing.recipients issue --all --out profiles

bench: install dagster-home
	$(BIN)/python -m bench

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(CITYBRAIN_LAKE) truth $(DAGSTER_HOME)
