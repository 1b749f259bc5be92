# wsa-harness developer tasks.  `make` alone sets up .venv and builds the core.
#
# Set-up is two stamps in the venv:
#   $(DEPS_STAMP)  venv, build requirements, editable install with [test,lint];
#                  redone when pyproject.toml or setup.py changes.
#   $(CORE_STAMP)  harness/_core.pyx (and any .pxd/.pxi) compiled in place;
#                  redone when they change.  Skipped while the .pyx does not exist.
# CC, CFLAGS, WSA_HARNESS_CORE_DEBUG and WSA_HARNESS_BUILD_DIR pass through to
# setup.py.  Switching compilers: `make clean` first, or use another build dir
# (`make clean` removes only build/; remove a build dir of your own yourself).

PYTHON ?= python3
VENV ?= .venv
PY = $(VENV)/bin/python
PIP = $(PY) -m pip

DEPS_STAMP = $(VENV)/.wsa-deps.stamp
CORE_STAMP = $(VENV)/.wsa-core.stamp
CORE_SOURCES = $(wildcard harness/*.pyx harness/*.pxd harness/*.pxi)
# Rebuild also when the .pyx exists but its compiled module was deleted.
CORE_MISSING = $(if $(wildcard harness/_core.pyx),$(if $(wildcard harness/_core.*.so),,FORCE))

PYTEST_ARGS ?=
FUZZ_TIME ?= 60

.PHONY: all venv build test lint format fuzz bench clean distclean FORCE

all: venv

venv: $(CORE_STAMP)

build: $(CORE_STAMP)

$(PY):
	$(PYTHON) -m venv $(VENV)

$(DEPS_STAMP): pyproject.toml setup.py | $(PY)
	$(PIP) install --upgrade pip
	@# The build requirements go into the venv too, so `setup.py build_ext` can rebuild the core.
	$(PY) -c 'import tomllib; print("\n".join(tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))' > $(VENV)/build-requirements.txt
	$(PIP) install --upgrade -r $(VENV)/build-requirements.txt
	$(PIP) install --no-build-isolation -e '.[test,lint]'
	touch $@

$(CORE_STAMP): $(DEPS_STAMP) $(CORE_SOURCES) $(CORE_MISSING)
	@if [ -f harness/_core.pyx ]; then \
		echo "$(PY) setup.py build_ext --inplace"; \
		$(PY) setup.py build_ext --inplace; \
	else \
		echo "harness/_core.pyx does not exist yet: nothing to compile"; \
	fi
	touch $@

test: $(CORE_STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

# cython-lint runs pycodestyle from PATH, hence the venv's bin/ first there.
lint: $(DEPS_STAMP)
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy harness
	@if [ -n "$(strip $(CORE_SOURCES))" ]; then \
		echo "$(VENV)/bin/cython-lint $(CORE_SOURCES)"; \
		PATH="$(abspath $(VENV))/bin:$$PATH" $(VENV)/bin/cython-lint $(CORE_SOURCES); \
	else \
		echo "cython-lint: no .pyx/.pxd under harness/ yet, skipped"; \
	fi

format: $(DEPS_STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

fuzz: $(CORE_STAMP)
	$(VENV)/bin/wsa-harness fuzz --time $(FUZZ_TIME) --engines core,reference --profiles documented

bench: $(CORE_STAMP)
	$(PY) -m pytest bench --benchmark-only $(PYTEST_ARGS)

clean:
	rm -rf build/ *.egg-info
	rm -f harness/*.so harness/_core.c harness/_core.html
	rm -f $(DEPS_STAMP) $(CORE_STAMP)

distclean: clean
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks

FORCE:
