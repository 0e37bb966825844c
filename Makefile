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

.PHONY: book test site-test lint data clean help
help:
	@echo "make book       build the site into _build/html (checks every chapter's stored run)"
	@echo "make test       unit tests + every chapter re-executed under nbval + ruff"
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

test: $(VENV)/.installed data
	$(VENV)/bin/ruff check .
	$(PY) -m pytest -q -rs --ignore=tests/test_site.py

site-test: $(VENV)/.installed
	$(PY) -m pytest -q -m site tests/test_site.py

clean:
	rm -rf _build
