# Folio: `make demo` sets up and runs the demo on a fresh Debian machine; `make test` runs the tests.
SWIFT ?= swift
SYSTEM_PACKAGES := libicu-dev libzstd-dev libopenblas-dev pkg-config
DEMO_CORPUS := corpora/debian-packages
DEMO_OUT := runs/demo

.PHONY: deps build release demo test bench-vocab clean

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

# Until the training pipeline lands, the demo runs the text front end on the shipped corpus.
demo: release
	@mkdir -p $(DEMO_OUT)
	.build/release/folio vocab $(DEMO_CORPUS) --out $(DEMO_OUT)/vocabulary.tsv --max-tokens 20000
	@echo "vocabulary: $(DEMO_OUT)/vocabulary.tsv (first lines below)"
	@head -n 12 $(DEMO_OUT)/vocabulary.tsv

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

bench-vocab: release
	bash bench/vocab_bench.sh

clean:
	rm -rf .build runs
