# sardfq: the two commands of the README.
#   make main   installs what it needs, builds, and runs the headline recipe on the embedded default
#   make test   installs what it needs, builds in release mode and runs every test
# Everything else here is a helper for those two.

APT_PACKAGES := libopenblas-dev libdnnl-dev libreadline-dev gnuplot-nox libpng-dev libjpeg-dev zlib1g-dev \
                dataset-fashion-mnist
SWIFT_FLAGS  := -c release -Xswiftc -enable-testing
SARDFQ       := .build/release/sardfq

.PHONY: main test deps build bench clean

# Installs the Debian packages that are missing (needs root; apt-get update only when needed).
deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi

build: deps
	swift build $(SWIFT_FLAGS)

test: deps
	swift build $(SWIFT_FLAGS) --build-tests
	swift test $(SWIFT_FLAGS) --skip-build

main: build
	$(SARDFQ) run recipes/headline.dfq

bench: build
	$(SARDFQ) bench all

clean:
	rm -rf .build
