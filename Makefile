# The two set-up commands (README): `make run` and `make test`. Both are idempotent.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEBS := dataset-fashion-mnist chromium chromium-driver
PORT ?= 8501

.PHONY: run test setup debs zoo

run: setup zoo
	$(VENV)/bin/streamlit run app.py --server.address 127.0.0.1 --server.port $(PORT)

test: setup
	$(PY) -m pytest

setup: debs $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -r requirements.txt
	$(PY) -m pip install --no-deps --no-build-isolation -e .
	touch $(STAMP)

debs:
	@missing=$$(for p in $(DEBS); do dpkg -s $$p >/dev/null 2>&1 || echo $$p; done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    apt-get install -y $$missing || (apt-get update && apt-get install -y $$missing); \
	  else \
	    echo "hashviz needs the Debian packages: $$missing"; \
	    echo "install them with: sudo apt-get install -y $$missing   (then run make again)"; exit 1; \
	  fi; \
	fi

# Builds whatever of the starter zoo is missing (the shipped models are skipped).
zoo: setup
	$(VENV)/bin/hashviz zoo build --root models
