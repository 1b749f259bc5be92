# wsa-harness developer tasks.  `make` alone sets up .venv and builds the core.
#
# Set-up is two stamps in the venv:
#   $(DEPS_STAMP)  venv, build requirements, editable install with [test,lint,bench];
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
CORE_MISSING = $(if $(wildcard harness/_core.pyx),$(if $(wildcard harness/_core.*.so),$(if $(wildcard harness/_records.*.so),,FORCE),FORCE))

PYTEST_ARGS ?=
# `make test` runs the suite on this many pytest-xdist workers (0: in this process);
# tests that share a real stack or a file's fixtures stay on one worker (tests/conftest.py)
PYTEST_JOBS ?= 2
FUZZ_TIME ?= 60

.PHONY: all venv build test lint format fuzz bench clean distclean FORCE
.PHONY: clang fuzz-native test-sanitize soak

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
	$(PIP) install --no-build-isolation -e '.[test,lint,bench]'
	touch $@

$(CORE_STAMP): $(DEPS_STAMP) $(CORE_SOURCES) $(CORE_MISSING)
	@if [ -f harness/_core.pyx ]; then \
		echo "$(PY) setup.py build_ext --inplace"; \
		$(PY) setup.py build_ext --inplace; \
	else \
		echo "harness/_core.pyx does not exist yet: nothing to compile"; \
	fi
	touch $@

test: $(CORE_STAMP) clang
	$(PY) -m pytest -n $(PYTEST_JOBS) --dist loadgroup -m "not whole_corpus" $(PYTEST_ARGS)

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

# The core-led campaign (docs/campaigns.md): the core built with clang's
# -fsanitize=fuzzer-no-link, so libFuzzer sees the core's edges.  Without clang it
# says so and fuzzes the in-place core (the reference's Python coverage only).
FUZZ_ARGS ?=
fuzz: $(CORE_STAMP)
	@if command -v $${WSA_HARNESS_CLANG:-clang} >/dev/null 2>&1; then native=--native; else \
		native=; echo "clang is not installed: fuzzing the in-place core without native" \
			"coverage (libFuzzer sees the reference's branches only); make clang installs it"; \
	fi; \
	echo "$(VENV)/bin/wsa-harness fuzz $$native --time $(FUZZ_TIME) --engines core,reference --profiles any $(FUZZ_ARGS)"; \
	$(VENV)/bin/wsa-harness fuzz $$native --time $(FUZZ_TIME) --engines core,reference --profiles any $(FUZZ_ARGS)

# Instrumented builds of the core (harness/fuzz/native.py), each in build/native-*/ so the
# in-place core stays as it is.  clang is Debian's, installed with apt-get if missing.
SANITIZE_FUZZ_RUNS ?= 10000
# Tests that drive Wine are left out: the sanitizer runtime in LD_PRELOAD is for the
# Python processes that load the instrumented core, and Wine does not load it.
SANITIZE_PYTEST_ARGS ?= -k "not wine"

# Without apt-get (not Debian), or when apt-get cannot install it (not root), `make clang`
# says what needs clang and how to get it, and succeeds: `make test` then skips the
# one test that builds instrumented cores; fuzz-native and test-sanitize fail in their
# build with "clang is not installed".
CLANG_HELP = clang is missing: the test that builds the core with clang \
	(tests/fuzz/test_native.py, the native-coverage and ASan+UBSan builds) is skipped, \
	and make fuzz-native and make test-sanitize need it. Install clang with your \
	package manager (dnf install clang, zypper install clang, pacman -S clang, \
	apk add clang, brew install llvm) so that it is on PATH, then run make test again.

clang:
	@if command -v clang >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
		echo "clang not found: installing Debian's clang with apt-get"; \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang; } \
			|| echo "apt-get could not install clang. $(CLANG_HELP)"; \
	else \
		echo "no apt-get on this machine. $(CLANG_HELP)"; \
	fi

# The differential campaign with the core built with -fsanitize=fuzzer-no-link.
fuzz-native: $(CORE_STAMP) clang
	$(VENV)/bin/wsa-harness fuzz --native --time $(FUZZ_TIME) --engines core,reference --profiles any

# The whole test suite, then a bounded fuzz run, on the core built with ASan + UBSan.
test-sanitize: $(CORE_STAMP) clang
	$(PY) -m harness.fuzz.native exec sanitize -- $(PY) -m pytest -p no:cacheprovider $(SANITIZE_PYTEST_ARGS)
	@# Divergences are recorded and listed (the campaign's business); a sanitizer report fails.
	rm -rf build/native-sanitize/fuzz-corpus build/native-sanitize/findings
	$(VENV)/bin/wsa-harness corpus export corpus/seeds --out build/native-sanitize/fuzz-corpus
	WSA_FUZZ_FINDINGS=build/native-sanitize/findings $(PY) -m harness.fuzz.native exec sanitize -- \
		$(PY) fuzz/fuzz_differential.py -runs=$(SANITIZE_FUZZ_RUNS) -seed=1 \
		-artifact_prefix=build/native-sanitize/ build/native-sanitize/fuzz-corpus
	@n=$$(ls build/native-sanitize/findings/*.json 2>/dev/null | wc -l); \
	echo "sanitizers: no errors; $$n divergence(s) recorded in build/native-sanitize/findings"

# 10^7 steps of mixed churn on the core, RSS sampled (harness/perf/soak.py).
soak: $(CORE_STAMP)
	$(PY) -m harness.perf.soak $(SOAK_ARGS)

bench: $(CORE_STAMP)
	$(PY) -m pytest bench --benchmark-only $(PYTEST_ARGS)

# Conformance against real implementations (docs/conformance.md): both engines over
# the seed corpus and conformance/programs, each also under its own measured profile
# (docs/profiles.md).  --check fails on a difference from that profile unless
# conformance/known/ENGINE.txt lists it, on a stale entry there, and on an error;
# both engines run even when the first fails.  Then a bounded fuzz campaign of each
# engine against the model under its own profile (docs/campaigns.md), seeded afresh
# from the same corpora, so the conformance corpus is replayed and mutated: it fails
# on a new finding; last, the exported C corpus under Wine (conformance-export).
# Installs wine64 and the MinGW compiler
# with apt when they are missing (Debian, as root).  Build output and the private
# WINEPREFIX live in build/conformance/.
MINGW_CC ?= x86_64-w64-mingw32-gcc
CONFORMANCE_DRIVER = build/conformance/wsa-driver.exe
CONFORMANCE_CORPORA ?= corpus/seeds conformance/programs
CONFORMANCE_KNOWN ?= conformance/known
CONFORMANCE_ARGS ?=
# executions of each engine's bounded campaign (Linux runs ~100 programs a second,
# Wine ~20), with a fixed libFuzzer seed
CONFORMANCE_FUZZ_RUNS_linux ?= 2000
CONFORMANCE_FUZZ_RUNS_wine ?= 300
LWIP_DRIVER = build/conformance/lwip-driver
#: apt-get waits this long (s) for another apt/dpkg to release its lock
DPKG_LOCK_TIMEOUT ?= 300
.PHONY: conformance conformance-deps conformance-driver conformance-lwip conformance-fuzz
.PHONY: conformance-export

conformance-deps:
	@missing=""; \
	command -v $(MINGW_CC) >/dev/null || missing="$$missing gcc-mingw-w64-x86-64"; \
	{ command -v wine64 || command -v wine || test -x /usr/lib/wine/wine64; } >/dev/null \
		|| missing="$$missing wine64"; \
	test -f /usr/include/lwip/lwip/sockets.h || missing="$$missing liblwip-dev"; \
	if [ -n "$$missing" ]; then \
		echo "apt-get install$$missing"; \
		apt-get -o DPkg::Lock::Timeout=$(DPKG_LOCK_TIMEOUT) update -q && \
			DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=$(DPKG_LOCK_TIMEOUT) \
			install -y -q --no-install-recommends $$missing; \
	fi

conformance-driver: $(CONFORMANCE_DRIVER)

# The lwIP engine's driver: Debian's liblwip (liblwip-dev), the unix port.
conformance-lwip: $(LWIP_DRIVER)

$(LWIP_DRIVER): conformance/lwip/driver.c conformance/protocol.h
	@mkdir -p $(@D)
	$(CC) -O2 -Wall -Wextra -I/usr/include/lwip -o $@.tmp $< -llwip -lpthread && mv $@.tmp $@

$(CONFORMANCE_DRIVER): conformance/wine/driver.c conformance/protocol.h
	@mkdir -p $(@D)
	$(MINGW_CC) -O2 -Wall -Wextra -o $@.tmp $< -lws2_32 && mv $@.tmp $@

conformance: $(CORE_STAMP) conformance-deps
	$(MAKE) conformance-driver conformance-lwip
	@status=0; \
	for engine in linux wine lwip; do \
		echo "$(VENV)/bin/wsa-harness conformance --engine $$engine --check" \
			"--known $(CONFORMANCE_KNOWN)/$$engine.txt --markdown build/conformance/$$engine.md" \
			"$(CONFORMANCE_ARGS) $(CONFORMANCE_CORPORA)"; \
		$(VENV)/bin/wsa-harness conformance --engine $$engine --check \
			--known $(CONFORMANCE_KNOWN)/$$engine.txt --markdown build/conformance/$$engine.md \
			$(CONFORMANCE_ARGS) $(CONFORMANCE_CORPORA) || status=$$?; \
	done; \
	$(MAKE) -s conformance-fuzz || status=$$?; \
	$(MAKE) -s conformance-export || status=$$?; \
	exit $$status

# Every program of both corpora exported as a standalone C test (`wsa-harness export
# c --all`), built with MinGW and run under Wine: each gives the verdicts the Wine
# driver gives (part of `make conformance`; minutes, so not in `make test`).
conformance-export: $(CORE_STAMP) conformance-deps
	$(PY) -m pytest -q -m whole_corpus tests/conformance/test_export.py $(PYTEST_ARGS)

# A bounded fuzz campaign of each engine against the model under its own profile
# (docs/campaigns.md, "A real engine as a side"), seeded afresh from corpus/seeds and
# conformance/programs, so CI replays and mutates the conformance corpus; it fails on
# a new finding (part of `make conformance`).
conformance-fuzz: $(CORE_STAMP)
	@status=0; \
	for engine in linux wine; do \
		runs=$$( [ $$engine = linux ] && echo $(CONFORMANCE_FUZZ_RUNS_linux) \
			|| echo $(CONFORMANCE_FUZZ_RUNS_wine) ); \
		rm -rf build/conformance/fuzz-$$engine; \
		echo "$(VENV)/bin/wsa-harness fuzz --engines $$engine,reference --runs $$runs" \
			"--out build/conformance/fuzz-$$engine -- -seed=1"; \
		$(VENV)/bin/wsa-harness fuzz --engines $$engine,reference --runs $$runs \
			--out build/conformance/fuzz-$$engine -- -seed=1 || status=$$?; \
	done; \
	exit $$status

clean:
	rm -rf build/ *.egg-info
	rm -f harness/*.so harness/_core.c harness/_core.html
	rm -f $(DEPS_STAMP) $(CORE_STAMP)

distclean: clean
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .hypothesis .benchmarks

FORCE:
