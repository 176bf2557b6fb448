# rehab-station: two commands on a fresh machine.
#   make sim    run the station's main job on the simulator
#   make test   install what the tests need, then lint, type-check, MicroPython and pytest
VENV   ?= .venv
PYTHON ?= python3
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# The MicroPython WebAssembly port that runs the drivers (version pinned in .ci/package.json).
MPY_WASM := .ci/node_modules/@micropython/micropython-webassembly-pyscript/micropython.wasm

.PHONY: sim test venv broker postgres browser mpy-wasm lint typecheck micropython pytest bench clean

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

# The clinic's PostgreSQL tests start a real server (Debian's binaries, as user postgres).
postgres:
	@if ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing PostgreSQL from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			postgresql >/dev/null; \
	else \
		echo "PostgreSQL is missing: run 'sudo apt-get install postgresql' (or run make test as root)"; \
		exit 1; \
	fi

# The clinic dashboard's test drives a real headless Chromium: Debian's, with its driver.
browser:
	@if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Chromium and chromedriver from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			chromium chromium-driver >/dev/null; \
	else \
		echo "Chromium is missing: run 'sudo apt-get install chromium chromium-driver' (or run make test as root)"; \
		exit 1; \
	fi

# MicroPython 1.27 for WebAssembly, from npm into .ci/node_modules, when missing or stale.
$(MPY_WASM): .ci/package.json .ci/package-lock.json
	@if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ]; then \
		echo "installing Node.js and npm from Debian"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			nodejs npm >/dev/null; \
	else \
		echo "Node.js and npm are missing: run 'sudo apt-get install nodejs npm' (or run make test as root)"; \
		exit 1; \
	fi
	cd .ci && npm ci --no-audit --no-fund --loglevel=error
	touch $(MPY_WASM)

mpy-wasm: $(MPY_WASM)

sim: venv
	$(BIN)/rehab-station run --sim

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: venv
	$(BIN)/mypy station sensors ui_lcd mqtt_bridge hw_tests drivers

micropython: venv $(MPY_WASM)
	$(BIN)/python .ci/micropython_check.py

# Bytecode is cached even where the environment sets PYTHONDONTWRITEBYTECODE, out of the
# source tree: every Python process the suite starts (xdist workers, stations, clinic
# commands) would otherwise compile each module it imports again (~0.3 s of CPU each).
pytest: venv broker postgres browser $(MPY_WASM)
	@PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/.pytest_cache/pycache \
		$(BIN)/pytest; rc=$$?; \
	if [ $$rc -eq 5 ]; then echo "pytest collected no tests: failing"; exit 1; fi; exit $$rc

test: lint typecheck micropython pytest

bench: venv
	$(BIN)/rehab-station bench --sim

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .ci/node_modules
