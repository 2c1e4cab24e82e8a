# segq — the README's commands: `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps test-deps build build-asan test test-release test-asan fixtures demo bench \
	bench-peers clean

all: build

deps:
	scripts/install-deps.sh

test-deps:
	scripts/install-deps.sh --test
	scripts/install-test-deps.sh

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=Release

build: $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS)

# The sanitizer build: -O1 with line tables only (-g1) compiles about a quarter faster than -O2 -g
# and still gives ASan/UBSan reports with file:line stacks.
$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGQ_SANITIZE=ON \
	  -DSEGQ_BUILD_BENCH=OFF "-DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1 -g1 -DNDEBUG"

build-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-release: build
	cd $(BUILD) && ctest $(CTEST_ARGS)

# Under the sanitizers, every test but interop.test_readme_demo: that one checks README's table
# against a fresh demo run (the release pass runs it); the demo's code paths run under ASan in
# CliEval.NoArgumentsRunsTheDemo.
test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS) \
	  -E '^interop\.test_readme_demo$$'

# Everything: dependencies, release build + tests, then the whole suite again under ASan+UBSan.
test: test-deps
	$(MAKE) test-release
	$(MAKE) test-asan

fixtures:
	tools/make_fixtures.sh

# The main job on the embedded default: the demo model (assets/models/segformer-b0-synth150) on the
# demo set (100 `segq synth` scenes, regenerated on first use), every default method side by side.
# Builds only the segq executable, so it stays well inside 10 minutes on 2 cores.
demo: deps $(BUILD)/CMakeCache.txt
	cmake --build $(BUILD) -j $(JOBS) --target segq
	$(BUILD)/segq eval

bench: build
	$(BUILD)/segq_bench

# Side-by-side benchmark against transformers, ONNX Runtime and optimum-quanto (tools/bench_peers.py):
# a virtualenv with the pinned peers (tools/requirements-peers.txt), the release build, one run.
# PEERS_ARGS passes options through, e.g. PEERS_ARGS="--model path/to/model --repeats 5";
# PEERS_PYTHON=/path/to/venv/bin/python uses an existing environment with those pins instead.
PEERS_VENV   ?= .venv-peers
PEERS_PYTHON ?=
PEERS_ARGS   ?=

$(PEERS_VENV)/.installed: tools/requirements-peers.txt
	python3 -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/pip install --upgrade pip
	$(PEERS_VENV)/bin/pip install -r tools/requirements-peers.txt
	touch $@

ifeq ($(strip $(PEERS_PYTHON)),)
bench-peers: build $(PEERS_VENV)/.installed
	SEGQ_BENCH_PEERS_MAKE=1 $(PEERS_VENV)/bin/python tools/bench_peers.py --segq $(BUILD)/segq $(PEERS_ARGS)
else
bench-peers: build
	SEGQ_BENCH_PEERS_MAKE=1 $(PEERS_PYTHON) tools/bench_peers.py --segq $(BUILD)/segq $(PEERS_ARGS)
endif

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
