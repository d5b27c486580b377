# ferry — the two commands: `make run` and `make test`; and `make lint`.
# Each installs the Debian packages it needs (idempotent) and builds (lint:
# configures) first.
JOBS ?= $(shell nproc)
RELEASE := build/release
ASAN := build/asan
FUZZ := build/fuzz
# Per fuzzer; ten fuzzers run one after another, so make fuzz-test takes
# about 10 x FUZZ_SECONDS plus a ~15 s build (3.5 min at the default).
FUZZ_SECONDS ?= 20

.PHONY: all deps build run test unit-test integration-test asan-test fuzz-test lint bench bench-intercept bench-policy clean

all: build

deps:
	@bash scripts/install-deps.sh test

build: deps
	@cmake --preset release >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)

run: build
	$(RELEASE)/ferry serve $(ARGS)

# Everything: unit + integration tests on the release build, the same suite
# under ASan+UBSan, then a short libFuzzer run of each parser fuzz target.
test: build
	cd $(RELEASE) && ctest --output-on-failure -j 2
	$(MAKE) asan-test
	$(MAKE) fuzz-test

asan-test: deps
	@cmake --preset asan >/dev/null
	@cmake --build $(ASAN) -j $(JOBS)
	cd $(ASAN) && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	  ctest --output-on-failure -j 2

fuzz-test: deps
	@cmake --preset fuzz >/dev/null
	@cmake --build $(FUZZ) -j $(JOBS) --target fuzz_targets
	bash tests/fuzz/run.sh $(FUZZ) $(FUZZ_SECONDS)

# clang-format over every C++ file, clang-tidy over the files changed since
# the merge base (see scripts/lint.sh; FERRY_LINT_BASE=<rev> overrides it).
# Only configures the release build: clang-tidy needs its compile_commands.json.
lint:
	@bash scripts/install-deps.sh lint
	@cmake --preset release >/dev/null
	bash scripts/lint.sh $(RELEASE)

bench: deps
	@bash scripts/install-deps.sh bench
	@cmake --preset release >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS)
	bash bench/run.sh $(RELEASE)/ferry

# Interception (issue 8): direct vs ferry's CONNECT tunnel vs mitmproxy vs ferry intercepting.
bench-intercept: deps
	@bash scripts/install-deps.sh bench
	@cmake --preset release >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS) --target ferry ferry_connect_load
	bash bench/intercept.sh $(RELEASE)/ferry

# Policy and tokens (issue 9): no policy vs a token plus a strict 10,000-pattern policy; run creation.
bench-policy: deps
	@bash scripts/install-deps.sh bench
	@cmake --preset release >/dev/null
	@cmake --build $(RELEASE) -j $(JOBS) --target ferry ferry_connect_bench
	bash bench/policy.sh $(RELEASE)/ferry

clean:
	rm -rf build
