# The two commands of the README: `make demo` (serve the demo on SQLite) and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell $(PYTHON) -c "import hashlib,sys; print(hashlib.md5(open('pyproject.toml','rb').read() + open('setup.py','rb').read()).hexdigest()[:8])")

.PHONY: demo test install schema bench clean screenshots

$(STAMP): pyproject.toml setup.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[test]"
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/resolute demo
	$(BIN)/resolute serve

test: $(STAMP)
	$(BIN)/python -m pytest -n auto  # one worker per core (pytest-xdist): each gets its own SQLite and PostgreSQL databases

schema: $(STAMP)
	$(BIN)/resolute export-schema

# The README's screenshots of the web page (Debian's Chromium, installed when missing): docs/screenshots/*.png
screenshots: $(STAMP)
	$(BIN)/python -m tests.screenshots docs/screenshots

bench: $(STAMP)
	$(BIN)/python bench/run.py

clean:
	rm -rf $(VENV) var .pytest_cache .hypothesis build dist

# Resolute side by side with PostGraphile (shared/peer) on PostgreSQL: see bench/README.md.
.PHONY: bench-peer
bench-peer: $(STAMP)
	$(BIN)/python bench/compare.py --scale medium
