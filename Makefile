# Folio: `make demo` sets up and runs the demo on a fresh Debian machine; `make test` runs the tests.
SWIFT ?= swift
SYSTEM_PACKAGES := libicu-dev libzstd-dev libopenblas-dev pkg-config

.PHONY: deps build release demo test bench-vocab bench-memory clean

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
	$(SWIFT) build -c release

# The demo pipeline end to end on the shipped corpus: vocabulary, shards, an LSTM trained
# with validation and early stopping, test accuracy, and a report with plots.
demo: release
	.build/release/folio run pipelines/demo.toml

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

bench-vocab: release
	bash bench/vocab_bench.sh

bench-memory: release
	bash bench/memory_bench.sh runs/memory-bench

clean:
	rm -rf .build runs
