# Kernel targets, included by the top-level Makefile.
#   make kernel [KSRC=<linux tree>]   build (or reuse from the cache) a schedbox kernel
#   make kernel-source                 fetch Debian's linux-source-6.12 into the cache
#   make kernel-deps                   install what building a kernel needs (Debian, root)

KSRC ?=
SCHEDBOX_RUN ?= cargo run --quiet --release -p schedbox --
KERNEL_BUILD_DEPS := build-essential bc bison flex libelf-dev libzstd-dev zlib1g-dev \
	dwarves zstd xz-utils
# Only for building sched_ext schedulers (tools/sched_ext) from the same tree.
KERNEL_SCX_DEPS := clang-16 llvm-16

.PHONY: kernel kernel-source kernel-deps

kernel:
	$(SCHEDBOX_RUN) kernel build $(if $(KSRC),--source $(KSRC))

kernel-source:
	$(SCHEDBOX_RUN) kernel fetch-source

kernel-deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		$(KERNEL_BUILD_DEPS) $(KERNEL_SCX_DEPS)
