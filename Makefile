# schedbox — see README.md. `make` builds; `make test` runs every test.
CARGO ?= cargo
INIT := init/target/release/schedbox-init
SCHEDBOX := target/release/schedbox
SCENARIO ?= scenarios/spin.toml
BENCH_RUNS ?= 5
SOAK_RUNS ?= 50
# `make fuzz`: seconds of random inputs in all, shared by the fuzz targets.
FUZZ_SECONDS ?= 600
# The passing catalog: what a healthy kernel must pass every time.
SOAK_SCENARIOS ?= scenarios/spin.toml $(wildcard scenarios/work/*.toml) $(wildcard scenarios/pass/*.toml)
# The prebuilt sched_ext kernel beside the repository, if there is one; otherwise
# schedbox uses $SCHEDBOX_KERNEL or the kernel cached by `make kernel-debian`.
KERNEL ?= $(wildcard ../shared/kernels/scx/bzImage)
KERNEL_FLAG := $(if $(KERNEL),--kernel $(KERNEL))
SUDO := $(if $(filter 0,$(shell id -u)),,sudo)
DEB_PACKAGES := qemu-system-x86 cpio gcc libc6-dev

.PHONY: all init launcher deps test test-kernel nested run initramfs kernel-debian bench soak fuzz lint clean

# `make` alone builds the init and the launcher, whatever the included files define first.
.DEFAULT_GOAL := all

# make kernel, kernel-source, kernel-deps: build a schedbox kernel (docs/kernel.md).
include kernel/kernel.mk

all: init launcher

init:
	cd init && $(CARGO) build --release

launcher:
	$(CARGO) build --release

# Installs the host tools (Debian/Ubuntu); does nothing when they are all there.
deps:
	@if command -v qemu-system-x86_64 >/dev/null && command -v cpio >/dev/null \
	    && command -v cc >/dev/null && command -v apt-get >/dev/null; then \
	    echo "deps: qemu-system-x86_64, cpio and cc are installed"; \
	else \
	    $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends $(DEB_PACKAGES); \
	fi
	@command -v $(CARGO) >/dev/null || { echo "deps: Rust is missing: install it from https://rustup.rs" >&2; exit 1; }

# The end-to-end tests boot schedbox's own sched_ext kernel and the tree's schedulers:
# test-inputs (kernel/kernel.mk) builds them once into ~/.cache/schedbox, installing the
# build dependencies first, and the tests read the paths from $(TEST_ENV).
# The init's tests live in its library: its freestanding binary has no test harness.
test: deps all test-inputs
	set -a && . ./$(TEST_ENV) && $(CARGO) test --workspace
	cd init && $(CARGO) test --lib

# The own VMM booting the project's kernel to init inside a QEMU/TCG guest with nested
# SVM (launcher/tests/nested.rs; minutes of emulation, not in `test`).
nested: deps all test-inputs
	set -a && . ./$(TEST_ENV) && SCHEDBOX_TEST_NESTED=1 $(CARGO) test --release -p schedbox \
	    --test nested -- --include-ignored --nocapture

run: all
	$(SCHEDBOX) run $(KERNEL_FLAG) $(SCENARIO)

# The initramfs (init, plan, the scenarios' payloads) for SCENARIO, e.g. to boot it by hand.
initramfs: all
	mkdir -p out
	$(SCHEDBOX) initramfs --output out/initramfs.cpio $(SCENARIO)
	@echo "wrote out/initramfs.cpio"

# Caches Debian's cloud kernel in ~/.cache/schedbox/kernels (needs `apt-get update` done).
kernel-debian: launcher
	@apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1 || $(SUDO) apt-get update
	$(SCHEDBOX) kernel fetch

# The passing catalog SOAK_RUNS times, one VM a run: runs whose verdict differed from the
# first, per check, with the values seen (not in `test`).
soak: all
	$(SCHEDBOX) soak --runs $(SOAK_RUNS) $(KERNEL_FLAG) --out out/soak-$$(date +%s) $(SOAK_SCENARIOS)

# Boot and run times per backend and kernel format, tiny-guest start-up, the monitor's
# CPU cost, stall detection latency, the passing catalog batched and one boot each, and
# sizes: medians of BENCH_RUNS runs (not in `test`).
bench: all
	$(SCHEDBOX) bench --runs $(BENCH_RUNS) $(KERNEL_FLAG) --out out/bench --doc docs/benchmarks.md \
	    $(foreach s,$(SOAK_SCENARIOS),--catalog $(s)) $(SCENARIO)

# Every fuzz target (launcher/tests/fuzz) for FUZZ_SECONDS in all, optimized but with
# overflow checks; `make test` runs them for a fraction of a second each (not in `test`).
fuzz:
	SCHEDBOX_FUZZ_TOTAL_SECONDS=$(FUZZ_SECONDS) $(CARGO) test --profile fuzz -p schedbox \
	    --test fuzz -- --nocapture --test-threads=1

# Import cycles among the files of each crate fail the lint (tools/import-cycles.py), and
# so does a stripped init above its size limit (INIT_SIZE_LIMIT in launcher/src/guest/init.rs).
lint: init
	python3 tools/import-cycles.py init/src/lib.rs --lib-name schedbox_init init/src/main.rs
	python3 tools/import-cycles.py launcher/src/lib.rs \
	    --lib-name schedbox launcher/src/main.rs protocol/src/lib.rs initramfs/src/lib.rs
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	cd init && $(CARGO) fmt --check
	cd init && $(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test -q -p schedbox --test init_size

clean:
	$(CARGO) clean
	cd init && $(CARGO) clean
	rm -rf out
