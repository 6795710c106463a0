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

# The whole road on the shipped corpus (until pipeline files land): vocabulary, shards for
# both splits, a bag-of-embeddings classifier trained with checkpoints, test accuracy.
demo: release
	@mkdir -p $(DEMO_OUT)
	.build/release/folio vocab $(DEMO_CORPUS) --out $(DEMO_OUT)/vocabulary.tsv --max-tokens 20000
	.build/release/folio shard $(DEMO_CORPUS) --vocabulary $(DEMO_OUT)/vocabulary.tsv --out $(DEMO_OUT)/train-shards
	.build/release/folio shard $(DEMO_CORPUS) --split test --labels-from $(DEMO_OUT)/train-shards \
	  --vocabulary $(DEMO_OUT)/vocabulary.tsv --out $(DEMO_OUT)/test-shards
	.build/release/folio train $(DEMO_OUT)/train-shards --test $(DEMO_OUT)/test-shards --model bag --epochs 10 \
	  --checkpoints $(DEMO_OUT)/checkpoints
	@echo "run folder: $(DEMO_OUT) (vocabulary, shards, checkpoints)"

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test

bench-vocab: release
	bash bench/vocab_bench.sh

clean:
	rm -rf .build runs
