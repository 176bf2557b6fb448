# rehab-station: two commands on a fresh machine.
#   make sim    run the station's main job on the simulator
#   make test   install what the tests need, then lint, type-check, mpy-cross and pytest
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: sim test venv broker lint typecheck micropython pytest bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

venv: $(STAMP)

# The MQTT tests talk to a real mosquitto: install it from Debian when it is missing.
broker:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing mosquitto from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			mosquitto openssl >/dev/null; \
	else \
		echo "mosquitto is missing: run 'sudo apt-get install mosquitto openssl' (or run make test as root)"; \
		exit 1; \
	fi

sim: venv
	$(BIN)/rehab-station run --sim

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy station sensors ui_lcd mqtt_bridge hw_tests drivers/sim drivers/smbus2_bus.py

micropython: venv
	$(BIN)/python .ci/micropython_check.py

pytest: venv broker
	@$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck micropython pytest

bench: venv
	$(BIN)/rehab-station bench --sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
