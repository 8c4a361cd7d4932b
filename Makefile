# shardkv — the two commands of the quick start, and helpers around them.
#   make run    install what building needs, build (Release), run the server on 127.0.0.1:6379
#   make test   install the test tools too, then every suite: -Werror build, unit,
#               integration, compatibility, container (podman), ASan+UBSan,
#               ThreadSanitizer, fuzzing
# The build itself is plain CMake; this file only wraps it. `make run` and
# `make build` install only what building and running need; the test targets
# install the test tools too (scripts/install-deps.sh runtime|all).

JOBS ?= $(shell nproc)
FUZZ_SECONDS ?= 30
# Where `make build` puts the Release build (docker/Dockerfile uses /out).
BUILD_DIR ?= build
CTEST = ctest --output-on-failure --no-tests=error -j1

.PHONY: all deps deps-runtime build run test test-build test-container test-asan \
        test-tsan test-fuzz format clean

all: build

deps:
	@bash scripts/install-deps.sh all

deps-runtime:
	@bash scripts/install-deps.sh runtime

build: deps-runtime
	cmake -S . -B $(BUILD_DIR) -DCMAKE_BUILD_TYPE=Release -DSKV_TESTS=OFF
	cmake --build $(BUILD_DIR) -j$(JOBS)

run: build
	$(BUILD_DIR)/bin/shardkv-server $(ARGS)

test: deps test-build test-container test-asan test-tsan test-fuzz
	@echo "make test: all suites passed"

# Optimised with assertions on (the owner-thread checks), warnings fatal.
test-build:
	cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKV_WERROR=ON
	cmake --build build-test -j$(JOBS)
	cd build-test && $(CTEST)

# docker/Dockerfile and both compose files under podman: build, serve,
# HEALTHCHECK, persistence in a volume, three servers behind twemproxy.
# Needs root (or sudo) for podman; removes every container, pod, network and
# volume it made, and keeps the images as a cache for the next run.
test-container:
	bash tests/container/run.sh

# Sanitizer runs: unit and integration suites (compat suites drive the same
# code paths with third-party clients and triple the time under sanitizers),
# without the suites labelled timing (they assert the server's real speed);
# TSan also leaves out the single-threaded data structures' unit tests
# (label single: no thread to race; tests/CMakeLists.txt).
test-asan:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKV_WERROR=ON \
	      -DSKV_SANITIZE=address,undefined
	cmake --build build-asan -j$(JOBS)
	cd build-asan && ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 $(CTEST) -L 'unit|integration' -LE timing

test-tsan:
	cmake -S . -B build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKV_WERROR=ON \
	      -DSKV_SANITIZE=thread
	cmake --build build-tsan -j$(JOBS)
	cd build-tsan && TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1:allocator_may_return_null=1 \
	    $(CTEST) -L 'unit|integration' -LE 'timing|single'

test-fuzz:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DSKV_FUZZ=ON \
	      -DSKV_TESTS=OFF -DSKV_JEMALLOC=OFF
	cmake --build build-fuzz -j$(JOBS)
	bash tests/fuzz/run-fuzz.sh build-fuzz $(FUZZ_SECONDS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build build-test build-asan build-tsan build-fuzz
