# segq — the README's commands: `make demo` and `make test`.
BUILD      ?= build
ASAN_BUILD ?= build-asan
JOBS       ?= $(shell nproc)
CMAKE_GEN  := $(shell command -v ninja >/dev/null 2>&1 && echo "-G Ninja")
CTEST_ARGS ?= --output-on-failure -j $(JOBS)

.PHONY: all deps test-deps build build-asan test test-release test-asan fixtures demo bench clean

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

$(ASAN_BUILD)/CMakeCache.txt:
	cmake -S . -B $(ASAN_BUILD) $(CMAKE_GEN) -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSEGQ_SANITIZE=ON \
	  -DSEGQ_BUILD_BENCH=OFF

build-asan: $(ASAN_BUILD)/CMakeCache.txt
	cmake --build $(ASAN_BUILD) -j $(JOBS)

test-release: build
	cd $(BUILD) && ctest $(CTEST_ARGS)

test-asan: build-asan
	cd $(ASAN_BUILD) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ctest $(CTEST_ARGS)

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

clean:
	rm -rf $(BUILD) $(ASAN_BUILD)
