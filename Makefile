# Kiln: `make demo` and `make test` set up what they need on a fresh Debian/Ubuntu machine.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libcurl4-openssl-dev libsqlite3-dev

.PHONY: deps bench-deps build release demo test bench clean

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing"; \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

demo: deps
	$(SWIFT) build --product kiln
	$$($(SWIFT) build --show-bin-path)/kiln demo

# A hung test must fail the run, not stall it: the whole suite gets 20 minutes.
test: deps
	$(SWIFT) build --build-tests
	timeout --kill-after=30 1200 $(SWIFT) test --skip-build

bench-deps: deps
	@command -v smtp-sink >/dev/null 2>&1 || [ -x /usr/sbin/smtp-sink ] || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postfix; }

bench: bench-deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark --no-progress

clean:
	rm -rf .build Benchmarks/.build
