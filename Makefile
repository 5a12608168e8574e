# dosim: every command a user or CI needs. `make` alone lists them.
#
# Everything runs from a virtual environment in .venv/ (or $(VENV)), made on first use with
# $(PYTHON): a venv keeps the interpreter it was made with, so another one needs its own VENV.
# dosim is installed there (editable, with its dev extra) once, and again only after
# pyproject.toml changes: the stamp file .venv/.installed records the last install.
# Nothing is installed or registered outside .venv/.
#
# Where a C compiler is at hand, every target but lint also compiles the runtime's hot
# modules with mypyc (`dosim native build`, see dosim/native.py; again only after they
# change). Without one, dosim runs from source and says so. `make test` runs the suite on
# the compiled modules, then the runtime's tests again on the sources (DOSIM_PURE=1): both
# must behave alike.

PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
# Put the venv first on PATH for commands that start other programs (kernels, the CLI).
RUN    := PATH="$(CURDIR)/$(BIN):$$PATH"
# Jupyter refuses to start as root unless told; containers and CI machines often are root.
LAB_ROOT := $(if $(filter 0,$(shell id -u)),--allow-root)

.DEFAULT_GOAL := help
.PHONY: help install native lab test lint demo bench clean

help:
	@echo 'make lab     set everything up and open the notebooks in JupyterLab'
	@echo 'make test    set everything up and run the whole test suite'
	@echo 'make demo    run the demo scenario, writing its tables and plots to out/'
	@echo 'make bench   run the benchmarks in bench/'
	@echo 'make soak    random models and faults for 20 minutes; report in out/soak.md'
	@echo 'make lint    check the code with ruff'
	@echo 'make native  compile the runtime'"'"'s hot modules with mypyc (all but lint do)'
	@echo 'make clean   remove build output, caches and out/ (keeps .venv/)'
	@echo 'Use another interpreter with PYTHON=..., in a venv of its own with VENV=...,'
	@echo 'e.g. make test PYTHON=python3.12 VENV=.venv-3.12'

# The venv's pip marks a usable venv: where ensurepip is missing, `python3 -m venv` fails after
# creating bin/python, and the next run must try again rather than take the venv as made.
$(BIN)/pip:
	@command -v $(PYTHON) >/dev/null 2>&1 || { \
	  echo "error: '$(PYTHON)' not found. dosim needs Python 3.11 or newer;" \
	       "name one with PYTHON=..., e.g. make PYTHON=python3.11" >&2; exit 1; }
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || { \
	  echo "error: dosim needs Python 3.11 or newer, and '$(PYTHON)' is" \
	       "$$($(PYTHON) --version 2>&1). Name another with PYTHON=..." >&2; exit 1; }
	@echo '$(PYTHON) -m venv $(VENV)'
	@$(PYTHON) -m venv $(VENV) && test -x $@ || { \
	  echo "error: '$(PYTHON) -m venv $(VENV)' could not make a virtual environment with pip." >&2; \
	  echo "On Debian or Ubuntu the venv module (with ensurepip) is a separate package:" >&2; \
	  echo "    apt-get install python3-venv" >&2; \
	  echo "then run make again." >&2; exit 1; }

# A venv keeps the interpreter it was made with. When PYTHON is given (on the command line or
# in the environment) and names another interpreter than the one $(VENV) was made with, stop and
# say so, rather than quietly run the old one.
.PHONY: venv-matches
venv-matches:
ifneq ($(filter command line environment,$(origin PYTHON)),)
	@if [ -x $(BIN)/python ]; then \
	  made=$$($(BIN)/python -c 'import os, sys; print(os.path.realpath(sys._base_executable))'); \
	  asked=$$($(PYTHON) -c 'import os, sys; print(os.path.realpath(sys.executable))' 2>/dev/null) || asked=; \
	  if [ -n "$$asked" ] && [ "$$made" != "$$asked" ]; then \
	    echo "error: $(VENV) was made with $$made, and PYTHON=$(PYTHON) is $$asked." >&2; \
	    echo "A venv keeps the interpreter it was made with: give this one a venv of its own," >&2; \
	    echo "e.g. make $(or $(MAKECMDGOALS),help) PYTHON=$(PYTHON) VENV=.venv-other, or remove $(VENV)." >&2; \
	    exit 1; \
	  fi; \
	fi
endif

$(STAMP): pyproject.toml | venv-matches $(BIN)/pip
	$(BIN)/pip install --disable-pip-version-check --no-input -e '.[dev]'
	@touch $@

install: $(STAMP)

native: $(STAMP)
	@$(BIN)/python -m dosim native build

lab: native
	$(RUN) $(BIN)/jupyter lab --notebook-dir=notebooks --ServerApp.ip=127.0.0.1 $(LAB_ROOT)

# The second pass (from source) leaves out the notebooks and the browser test: they reach the
# runtime through the calls the other tests make, and take longest. With PYTEST_ARGS, only
# the first pass runs.
test: native
	$(RUN) $(BIN)/python -m dosim native status
	$(RUN) $(BIN)/python -m pytest $(PYTEST_ARGS)
ifeq ($(PYTEST_ARGS),)
	$(RUN) DOSIM_PURE=1 $(BIN)/python -m dosim native status
	$(RUN) DOSIM_PURE=1 $(BIN)/python -m pytest -m 'not notebooks and not browser'
endif

lint: $(STAMP)
	$(BIN)/ruff check .

demo: native
	$(RUN) $(BIN)/python -m dosim demo --out out

bench: native
	$(RUN) $(BIN)/python bench/run.py

clean:
	rm -rf out build dist *.egg-info .pytest_cache .ruff_cache .hypothesis .mypy_cache
	rm -f dosim/*.so dosim/_native.json
	find . -path ./$(VENV) -prune -o \
	  \( -name __pycache__ -o -name .ipynb_checkpoints \) -type d -prune -exec rm -rf {} +

# Soak: the property test over fresh random scenarios for about 20 minutes; the report is
# written atomically to out/soak.md.
.PHONY: soak
soak: native
	$(RUN) $(BIN)/python bench/soak.py --minutes 20 --out out/soak.md
