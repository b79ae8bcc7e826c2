# sardfq: the two commands of the README.
#   make main   installs what it needs, builds, and runs the headline recipe on the embedded default
#   make test   installs what it needs, builds in release mode and runs every test
# Everything else here is a helper for those two.

APT_PACKAGES := libopenblas-dev libdnnl-dev libreadline-dev gnuplot-nox libpng-dev libjpeg-dev zlib1g-dev tmux chromium libzmq3-dev python3-venv \
                dataset-fashion-mnist
SWIFT_FLAGS  := -c release -Xswiftc -enable-testing
SARDFQ       := .build/release/sardfq

# Python test peers for the Jupyter kernel (Tests/KernelPeer), in a venv of Debian's Python.
VENV         := .build/venv
PY_PEERS     := jupyter_client==8.10.0 nbclient==0.11.0 nbformat==5.11.1

.PHONY: main test deps build bench clean fuzz venv

# Coverage-guided fuzzing (docs/fuzzing.md): an ASan + coverage build of sardfq-fuzz linked with
# libFuzzer, then each harness for FUZZ_SECONDS from its seeds. Findings land in .build/fuzz/findings.
FUZZ_SECONDS   ?= 3600
FUZZ_HARNESSES ?= script safetensors idx image
FUZZ_FLAGS     := -c release --product sardfq-fuzz --build-path .build/fuzz -Xswiftc -DLIBFUZZER \
                  -Xswiftc -sanitize=fuzzer,address -Xswiftc -use-ld=lld -Xcc -fsanitize=address,fuzzer-no-link

# Installs the Debian packages that are missing (needs root; apt-get update only when needed).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	swift build $(SWIFT_FLAGS)

venv: deps
	@[ -x $(VENV)/bin/python ] && $(VENV)/bin/python -c "import jupyter_client, nbclient, nbformat" 2>/dev/null || \
	  { rm -rf $(VENV) && /usr/bin/python3 -m venv $(VENV) && $(VENV)/bin/pip install -q $(PY_PEERS); }

test: deps venv
	swift build $(SWIFT_FLAGS) --build-tests
	swift test $(SWIFT_FLAGS) --skip-build

main: build
	$(SARDFQ) run recipes/headline.dfq

bench: build
	$(SARDFQ) bench all

fuzz: build
	swift build $(FUZZ_FLAGS)
	@mkdir -p .build/fuzz/findings .build/fuzz/logs
	@for h in $(FUZZ_HARNESSES); do \
	  .build/release/sardfq-fuzz $$h --seeds .build/fuzz/corpus/$$h/seeds >/dev/null && mkdir -p .build/fuzz/corpus/$$h/found && \
	  ASAN_OPTIONS=detect_leaks=0 .build/fuzz/release/sardfq-fuzz $$h -max_total_time=$(FUZZ_SECONDS) -timeout=5 -rss_limit_mb=2048 -max_len=65536 -detect_leaks=0 \
	    -print_final_stats=1 -artifact_prefix=.build/fuzz/findings/$$h- \
	    .build/fuzz/corpus/$$h/found .build/fuzz/corpus/$$h/seeds 2> .build/fuzz/logs/$$h.log; \
	  echo "$$h: $$(grep -E '^stat::number_of_executed_units' .build/fuzz/logs/$$h.log | awk '{print $$2}') executions," \
	       "$$(ls .build/fuzz/findings | grep -c "^$$h-") findings (log: .build/fuzz/logs/$$h.log)"; \
	done

clean:
	rm -rf .build
