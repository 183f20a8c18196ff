# leanmqtt: `make demo` runs the main job, `make test` the whole suite. Both set up first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DURATION ?= 0
BOARD   ?= unix
PORT    ?=

.PHONY: setup mosquitto test demo bench bench-outbox fleet deploy console typecheck build clean

setup: $(STAMP) mosquitto

$(STAMP): requirements.txt
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check -r requirements.txt
	touch $@

# Debian's mosquitto: installed with apt-get when missing and we are root.
mosquitto:
	@if command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing mosquitto with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null; \
	else \
		echo "mosquitto is missing; install it with:  sudo apt-get install mosquitto"; exit 1; \
	fi

test: setup
	$(BIN)/pytest -q tests

# Mosquitto where it is or can be installed; else amqtt, a broker in Python from PyPI.
demo: $(STAMP)
	@$(MAKE) -s mosquitto || { echo "demo: using amqtt instead"; $(BIN)/pip install -q amqtt==0.12.1; }
	$(BIN)/python tools/demo.py --duration $(DURATION)

# ANCHORS=dir: a micropython-lib checkout (or its bare git dir) when mip has no internet;
# MQTT_AS=dir: likewise a micropython-mqtt checkout (mqtt_as is left out without either).
# strace counts socket writes; without it that column says n/a.
bench: setup
	@command -v strace >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get install -y -qq strace >/dev/null 2>&1; } || true
	$(BIN)/python tools/bench.py $(if $(ANCHORS),--anchors $(ANCHORS)) $(if $(MQTT_AS),--mqtt-as $(MQTT_AS)) $(if $(JSON),--json $(JSON))

# the outbox: flash per reading on littlefs, its RAM, wake to PUBACK in sleep mode
bench-outbox: setup
	$(BIN)/python tools/bench_outbox.py

fleet: setup
	$(BIN)/python tools/fleet.py --n $(or $(N),100)

typecheck: $(STAMP)
	$(BIN)/python tools/typecheck.py

build: $(STAMP)
	$(BIN)/python tools/build.py --board $(BOARD)

deploy: $(STAMP)
	$(BIN)/python tools/deploy.py --board $(BOARD) --port $(PORT)

console: $(STAMP)
	$(BIN)/python -m serial.tools.miniterm $(PORT) 115200

clean:
	rm -rf $(VENV) build .pytest_cache .stubs
