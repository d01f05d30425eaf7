# Kernel targets, included by the top-level Makefile.
#   make kernel [KSRC=<linux tree>]   build (or reuse from the cache) a schedbox kernel
#   make kernel-source                 fetch Debian's linux-source-6.12 into the cache
#   make kernel-deps                   install what building a kernel needs (Debian, root)
#   make schedulers [KSRC=<linux tree>] build the tree's scx_simple and scx_qmap (dynamically
#                                      linked, needs clang-16) beside the kernel in the cache

KSRC ?=
SCHEDBOX_RUN ?= cargo run --quiet --release -p schedbox --
KERNEL_BUILD_DEPS := build-essential bc bison flex libelf-dev libzstd-dev zlib1g-dev \
	dwarves zstd xz-utils
# Only for building sched_ext schedulers (tools/sched_ext) from the same tree.
KERNEL_SCX_DEPS := clang-16 llvm-16

.PHONY: kernel kernel-source kernel-deps schedulers

SCX_SCHEDULERS := scx_simple scx_qmap
SCX_CLANG ?= clang-16
SCX_LLVM_STRIP ?= llvm-strip-16

kernel:
	$(SCHEDBOX_RUN) kernel build $(if $(KSRC),--source $(KSRC))

kernel-source:
	$(SCHEDBOX_RUN) kernel fetch-source

kernel-deps:
	DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
		$(KERNEL_BUILD_DEPS) $(KERNEL_SCX_DEPS)

# The schedulers' BPF code is compiled against the BTF of the kernel `make kernel` gives
# for the same tree; they land in <cache>/kernels/<key>/scx/build/bin.
schedulers:
	@set -e; \
	image=$$($(SCHEDBOX_RUN) kernel build $(if $(KSRC),--source $(KSRC))); \
	src=$(if $(KSRC),$(abspath $(KSRC)),$$($(SCHEDBOX_RUN) kernel fetch-source)); \
	dir=$$(dirname "$$image"); mkdir -p "$$dir/scx"; \
	nice $(MAKE) -C "$$src/tools/sched_ext" O="$$dir/scx" CLANG=$(SCX_CLANG) \
		LLVM_STRIP=$(SCX_LLVM_STRIP) VMLINUX_BTF="$$dir/vmlinux" $(SCX_SCHEDULERS); \
	for s in $(SCX_SCHEDULERS); do echo "$$dir/scx/build/bin/$$s"; done
