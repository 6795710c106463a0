# Folio: `make demo` sets up and runs the demo on a fresh Debian machine; `make test` runs the tests.
SWIFT ?= swift
# chromium: the test of folio-serve's page in a real browser (headless).
# openmpi: distributed runs (mpirun -np N folio ...) and their tests.
SYSTEM_PACKAGES := libicu-dev libzstd-dev libopenblas-dev pkg-config chromium openmpi-bin libopenmpi-dev

.PHONY: deps build release demo test check-kernels check-kernels-arm64 bench-vocab bench-memory bench-lstm fuzz fuzz-build sanitize sanitize-thread sanitize-address clean

# Installs the system libraries that are missing (as root), or prints the command to do it.
deps:
	@missing=""; \
	for package in $(SYSTEM_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$package 2>/dev/null | grep -q "install ok installed" || missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing:$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing system packages; run: sudo apt-get install -y$$missing"; exit 1; \
	  fi; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release --product folio

# The demo pipeline end to end on the shipped corpus: vocabulary, shards, an LSTM trained
# with validation and early stopping, test accuracy, and a report with plots.
demo: release
	.build/release/folio run pipelines/demo.toml

test: deps check-kernels
	$(SWIFT) build --build-tests
	$(SWIFT) test

# The C kernels' own check (Tests/KernelCheck), without Swift: every path this CPU runs
# against plain references.
# Built with clang where there is one, as SwiftPM builds the kernels for `folio` (gcc -O2
# keeps the tiles' sums in memory: right, but a fifth of the speed under `--bench`).
KERNEL_SOURCES := Sources/CFolioKernels/*.c Tests/KernelCheck/kernel_check.c
KERNEL_FLAGS := -O2 -fno-math-errno -Wall -Wextra -ISources/CFolioKernels/include
KERNEL_CC := $(shell command -v clang >/dev/null 2>&1 && echo clang || echo cc)
check-kernels:
	mkdir -p .build
	$(KERNEL_CC) $(KERNEL_FLAGS) $(KERNEL_SOURCES) -lm -o .build/kernel-check
	.build/kernel-check

# The same check cross-compiled for arm64 (the generic path, as NEON) with Debian's aarch64
# compiler and run under qemu-user: installs both where missing (as root).
check-kernels-arm64:
	@command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64 >/dev/null || \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user)
	mkdir -p .build
	aarch64-linux-gnu-gcc $(KERNEL_FLAGS) $(KERNEL_SOURCES) -lm -o .build/kernel-check-arm64
	qemu-aarch64 -L /usr/aarch64-linux-gnu .build/kernel-check-arm64

# Coverage-guided fuzzing (libFuzzer + AddressSanitizer) of every reader of outside data:
# each target in Fuzz/ for FUZZ_SECONDS, one after another (docs/hardening.md).
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=
fuzz-build: deps
	$(SWIFT) build -c release --package-path Fuzz --scratch-path .build-fuzz \
	  -Xswiftc -sanitize=fuzzer,address -Xswiftc -enable-testing
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) bash Fuzz/run.sh $(FUZZ_TARGETS)

# The whole test suite under ThreadSanitizer, then under AddressSanitizer (each in its own
# build folder; Swift's crash handler off so that the sanitizer's report is the one shown).
# TSan suppressions and LSan suppressions are explained in their files.
SANITIZER_ENV := SWIFT_BACKTRACE=enable=no LSAN_OPTIONS=suppressions=$(CURDIR)/Fuzz/lsan.supp:print_suppressions=0 \
  TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/Tests/tsan.supp" ASAN_OPTIONS=detect_leaks=1
sanitize: sanitize-thread sanitize-address
sanitize-thread: deps
	$(SWIFT) build --build-tests --sanitize=thread --scratch-path .build-tsan
	env $(SANITIZER_ENV) $(SWIFT) test --skip-build --sanitize=thread --scratch-path .build-tsan
sanitize-address: deps
	$(SWIFT) build --build-tests --sanitize=address --scratch-path .build-asan
	env $(SANITIZER_ENV) $(SWIFT) test --skip-build --sanitize=address --scratch-path .build-asan

bench-vocab: release
	bash bench/vocab_bench.sh

# The reference LSTM against PyTorch and Keras, per kernel path (../shared/peers/setup.sh first).
bench-lstm: release
	bash bench/lstm_bench.sh

bench-memory: release
	bash bench/memory_bench.sh runs/memory-bench

clean:
	rm -rf .build .build-fuzz .build-tsan .build-asan runs
