# leanmqtt: `make demo` runs the main job, `make test` the whole suite. Both set up first.
PY      ?= python3
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
DURATION ?= 0
BOARD   ?= unix
PORT    ?=

.PHONY: setup mosquitto emulator test test-chip demo bench bench-outbox fleet deploy console typecheck build clean firmware \
	brokers rabbitmq haproxy aedes amqtt ejabberd interop cluster

setup: $(STAMP) mosquitto emulator

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

# The emulated RP2040 of the chip tests (host/chip.py): rp2040js from npm, pinned by
# host/rp2040/package-lock.json (npm ci), and Debian's socat and slirp, its PPP peer
# (apt-get when missing and we are root). Without them the chip tests are skipped, saying why.
EMU_MODULES := host/rp2040/node_modules/.package-lock.json
emulator: $(EMU_MODULES)
	@if command -v socat >/dev/null 2>&1 && command -v slirp-fullbolt >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing socat and slirp with apt-get"; \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat slirp >/dev/null 2>&1 || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq socat slirp >/dev/null; }; \
	else \
		echo "socat/slirp missing (chip tests will be skipped); install: sudo apt-get install socat slirp"; \
	fi

$(EMU_MODULES): host/rp2040/package.json host/rp2040/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
		cd host/rp2040 && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.package-lock.json; \
	else echo "npm missing (chip tests will be skipped); install: sudo apt-get install nodejs npm"; fi

# The brokers of the interop matrix and the cluster (issue 16): Debian's RabbitMQ (and
# Erlang), ejabberd and HAProxy, Aedes from npm with the lock file in host/aedes/, amqtt from PyPI
# in a venv of its own (its 20 dependencies stay out of the suite's).
AMQTT_VENV := .venv-amqtt
brokers: rabbitmq haproxy aedes amqtt ejabberd

# $(call apt,COMMAND,PACKAGE): apt-get install PACKAGE when COMMAND is missing and we are root.
apt = @if [ -x $(1) ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing $(2) with apt-get"; \
		export DEBIAN_FRONTEND=noninteractive; \
		{ apt-get install -y -qq $(2) >/dev/null 2>&1 || \
		  { apt-get update -qq && apt-get install -y -qq $(2) >/dev/null; }; }; \
	else \
		echo "$(2) is missing; install it with:  sudo apt-get install $(2)"; exit 1; \
	fi

# The harness's nodes have ports, names and epmd of their own: a system RabbitMQ that apt
# may start does not stand in their way.
rabbitmq:
	$(call apt,/usr/lib/rabbitmq/bin/rabbitmq-server,rabbitmq-server)

haproxy:
	$(call apt,/usr/sbin/haproxy,haproxy)

ejabberd:
	$(call apt,/usr/sbin/ejabberdctl,ejabberd)

aedes: host/aedes/node_modules/.stamp
host/aedes/node_modules/.stamp: host/aedes/package-lock.json
# Aedes 1.2.0 wants Node.js 20 or later (the machine's; Debian 12's nodejs is 18).
	@command -v npm >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
	cd host/aedes && npm ci --no-audit --no-fund --loglevel=error
	touch $@

amqtt: $(AMQTT_VENV)/.installed
$(AMQTT_VENV)/.installed: host/amqtt/requirements.txt
	$(PY) -m venv $(AMQTT_VENV)
	$(AMQTT_VENV)/bin/pip install -q --disable-pip-version-check -r host/amqtt/requirements.txt
	touch $@

# The broker matrix alone, as a table (also part of `make test`, as tests/test_interop.py).
interop: setup brokers
	$(BIN)/python tools/interop.py

# A 3-node RabbitMQ cluster behind HAProxy, a node killed under the fleet; --table: the
# README's four setups (2 and 3 nodes, classic and quorum queues). NODES=3 alone: one run.
cluster: $(STAMP) rabbitmq haproxy
	$(BIN)/python tools/cluster.py $(if $(NODES),--nodes $(NODES),--table)

# The suite mostly waits (keepalives, outages, broker restarts: 2 min of CPU in 13 min), so
# it runs in 4 workers; tests/conftest.py keeps each file in one worker (its fixtures, the
# emulator, Home Assistant's venv), and the broker matrix in one group per broker.
# WORKERS=0: one process, in order.
WORKERS ?= 4
test: setup brokers
	$(BIN)/pytest -q $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadgroup) tests

# The chip tests alone (LEANMQTT_SILICON: the folder with the rp2 firmware and the bootrom).
test-chip: setup
	$(BIN)/pytest -q -m chip tests/test_chip.py

# Mosquitto where it is or can be installed; else amqtt, a broker in Python from PyPI.
demo: $(STAMP)
	@$(MAKE) -s mosquitto || { echo "demo: using amqtt instead"; $(BIN)/pip install -q amqtt==0.12.1; }
	$(BIN)/python tools/demo.py --duration $(DURATION)

# ANCHORS=dir: a micropython-lib checkout (or its bare git dir) when mip has no internet;
# MQTT_AS=dir: likewise a micropython-mqtt checkout (mqtt_as is left out without either).
# strace counts socket writes; without it that column says n/a. With LEANMQTT_SILICON (the
# firmware and bootrom) the chip section runs too: cycles, RAM and heap on the emulated RP2040.
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

# The rp2 firmware of boards/rp2040_ppp (board PICO_PPP) from a MicroPython checkout with its
# submodules: MICROPYTHON=dir (known good: af47daf3b0; see tools/firmware.py). PICOTOOL=dir: a picotool
# 2.2.0 source tree built first, so that pico-sdk does not download it. Out: build/silicon/.
# The ARM toolchain and cmake come from Debian, installed with apt-get when missing and root.
firmware:
	@test -n "$(MICROPYTHON)" || { echo "usage: make firmware MICROPYTHON=<micropython checkout> [PICOTOOL=<picotool src>]"; exit 2; }
	@if command -v arm-none-eabi-gcc >/dev/null 2>&1 && command -v cmake >/dev/null 2>&1 && echo '#include <stdio.h>' | arm-none-eabi-gcc -E -x c - >/dev/null 2>&1; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
		echo "installing gcc-arm-none-eabi libnewlib-arm-none-eabi cmake with apt-get"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-arm-none-eabi libnewlib-arm-none-eabi cmake >/dev/null; \
	else \
		echo "the ARM toolchain is missing; install it with:  sudo apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi cmake"; exit 1; \
	fi
	$(PY) tools/firmware.py --micropython $(MICROPYTHON) $(if $(PICOTOOL),--picotool $(PICOTOOL))

clean:
	rm -rf $(VENV) .venv-ha build .pytest_cache .stubs
