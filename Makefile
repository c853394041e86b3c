# Thin wrapper over CMake. `make test` and `make demo` install missing Debian packages first.
JOBS ?= $(shell nproc 2>/dev/null || echo 2)
BUILD_DIR ?= build
# Seconds each fuzz target runs in `make test` (after replaying its corpus).
FUZZ_TEST_SECONDS ?= 12
# `make fuzz`: executions and time limit per target, targets at a time (see scripts/fuzz-campaign).
FUZZ_RUNS ?= 10000000
FUZZ_SECONDS ?= 1800
FUZZ_JOBS ?= $(JOBS)
PREFIX ?= /usr/local

.PHONY: all release debug asan test demo bench fuzz deps clean format tidy install

all: release

deps:
	@scripts/install-deps

# Configure+build one tree: $(call build,DIR,TYPE,EXTRA-CMAKE-ARGS)
define build
	cmake -S . -B $(BUILD_DIR)/$(1) -DCMAKE_BUILD_TYPE=$(2) $(3) >/dev/null
	cmake --build $(BUILD_DIR)/$(1) -j $(JOBS)
endef

release:
	$(call build,release,Release,)

debug:
	$(call build,debug,Debug,)

# Sanitized build with clang, which also builds the libFuzzer targets.
asan:
	$(call build,asan,Asan,-DCMAKE_C_COMPILER=clang -DNB_FUZZ_SECONDS=$(FUZZ_TEST_SECONDS))

# The gcc release tree is built too, so `make demo` cannot break unseen.
test: deps asan release
	cd $(BUILD_DIR)/asan && ctest --output-on-failure -j $(JOBS) --timeout 900

demo: deps release
	scripts/demo $(BUILD_DIR)/release/niobium

# Every benchmark, then the tiny device's size (built in its own trees; scripts/device-size).
bench: release
	scripts/bench $(BUILD_DIR)/release
	scripts/device-size $(BUILD_DIR)

# The niobium command, the client library's headers, libniobium-client.a/.so and
# niobium-client.pc under PREFIX (default /usr/local); DESTDIR is honoured for packaging.
install: release
	DESTDIR="$(DESTDIR)" cmake --install $(BUILD_DIR)/release --prefix "$(PREFIX)"

# Every fuzz target to FUZZ_RUNS executions or FUZZ_SECONDS, FUZZ_JOBS at a time; what it finds
# is merged, minimized, into fuzz/corpus; then the table of executions and coverage per parser
# (scripts/fuzz-report; FUZZ_TARGETS="a b" for some targets only).
fuzz: asan
	FUZZ_RUNS=$(FUZZ_RUNS) FUZZ_SECONDS=$(FUZZ_SECONDS) FUZZ_JOBS=$(FUZZ_JOBS) \
	  BUILD_DIR=$(BUILD_DIR) scripts/fuzz-campaign $(FUZZ_TARGETS)

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# One clang-tidy process per file: clang 14's valist checker keeps state from one file to the
# next within a run and then reports lists that were va_start'ed as uninitialized.
tidy: release
	git ls-files 'src/*.c' 'apps/*.c' | xargs -n1 -P$(JOBS) clang-tidy -p $(BUILD_DIR)/release --quiet

clean:
	rm -rf $(BUILD_DIR)
