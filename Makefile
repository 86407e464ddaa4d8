# Kiln: `make demo` and `make test` set up what they need on a fresh Debian/Ubuntu machine.
SWIFT ?= swift
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
APT_PACKAGES := libcurl4-openssl-dev libsqlite3-dev libssl-dev

.PHONY: deps test-deps bench-deps build release demo test test-postgres bench throughput large-queue submission-bench submission-durability clean

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

# The independent checkers the tests run: dkimpy (with pynacl for Ed25519), Python's
# email package, and rsvg-convert (librsvg2-bin), which renders the simulator's charts to PNG.
test-deps: deps
	@command -v rsvg-convert >/dev/null 2>&1 || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq librsvg2-bin; } \
	  || echo "librsvg2-bin could not be installed: the chart PNG tests will be skipped (failed with KILN_REQUIRE_RSVG=1)"
	@python3 -c "import dkim, nacl" 2>/dev/null || python3 -m pip install -q dkimpy pynacl 2>/dev/null \
	  || python3 -m pip install -q --break-system-packages dkimpy pynacl 2>/dev/null \
	  || { $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq python3 python3-dkim python3-nacl; }
	@python3 -c "import dkim, nacl" || { echo "dkimpy and pynacl are needed by the tests"; exit 1; }
	@python3 -c "import schemathesis" 2>/dev/null || python3 -m pip install -q 'schemathesis>=4,<5' 2>/dev/null \
	  || python3 -m pip install -q --break-system-packages 'schemathesis>=4,<5' 2>/dev/null \
	  || echo "schemathesis could not be installed: the API fuzzing test will be skipped"

# A hung test must fail the run, not stall it: the whole suite gets 10 minutes (it takes 2-3;
# TEST_TIMEOUT=seconds). The run ends with a summary of what failed (scripts/run-tests.sh).
# The cluster tests run against this machine's PostgreSQL when it is installed (started and
# given a test role by scripts/postgres-test-env.sh); without it they are skipped, unless
# KILN_REQUIRE_POSTGRES=1. POSTGRES_SETUP=--install installs it from apt first (CI does).
# LOOPBACK_ONLY=1 (CI; needs root) runs the suite inside a network namespace that holds only
# loopback (scripts/loopback-only.sh), with PostgreSQL started inside it: a test that
# reached beyond this machine would fail.
POSTGRES_SETUP ?=
LOOPBACK_ONLY ?=
test: test-deps
	$(SWIFT) build --build-tests
ifeq ($(LOOPBACK_ONLY),1)
	scripts/postgres-test-env.sh $(POSTGRES_SETUP) >/dev/null
	scripts/loopback-only.sh sh -c 'pg_env=$$(scripts/postgres-test-env.sh) && eval "$$pg_env" && SWIFT=$(SWIFT) scripts/run-tests.sh'
else
	pg_env=$$(scripts/postgres-test-env.sh $(POSTGRES_SETUP)) && eval "$$pg_env" && \
	  SWIFT=$(SWIFT) scripts/run-tests.sh
endif

# Every test, the PostgreSQL cluster tests included (installs PostgreSQL when missing).
test-postgres:
	KILN_REQUIRE_POSTGRES=1 $(MAKE) test POSTGRES_SETUP=--install

# postfix: smtp-sink and smtp-source for the benches, and Postfix itself for submission-bench.
bench-deps: deps
	@{ command -v smtp-sink || [ -x /usr/sbin/smtp-sink ]; } >/dev/null 2>&1 && [ -x /usr/sbin/postfix ] && [ -x /usr/sbin/smtp-source ] || { \
	  $(SUDO) apt-get update -qq && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -qq postfix; }

bench: bench-deps
	cd Benchmarks && $(SWIFT) package --disable-sandbox benchmark --no-progress
	scripts/throughput.sh

# End-to-end sending against the SMTP ceiling and OpenSSL's signing rate.
throughput: bench-deps
	scripts/throughput.sh

# Delivery with 10 million queued against delivery with an empty queue.
large-queue: bench-deps
	scripts/large-queue.sh

# SMTP submission acceptance against a private Postfix instance's, and the HTTP API's
# recipients/s (release build; takes /tmp/kiln-build.lock for its whole run).
submission-bench: bench-deps
	$(SUDO) scripts/submission-bench.sh

# Every message the SMTP listener acknowledged survives a SIGKILL and is delivered.
submission-durability: deps
	scripts/submission-durability.sh

clean:
	rm -rf .build Benchmarks/.build
