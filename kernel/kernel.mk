# Kernel and scheduler targets, included by the top-level Makefile.
#   make kernel [KSRC=<linux tree>]   build (or reuse from the cache) a schedbox kernel
#   make kernel-source                 fetch Debian's linux-source-6.12 into the cache
#   make kernel-deps                   install what building kernels and schedulers needs
#                                      (Debian; does nothing when it is all there)
#   make schedulers [KSRC=<linux tree>] build the tree's scx_simple and scx_qmap (static,
#                                      clang-19) and put them beside the kernel in the cache
#   make scheduler NAME=scx_bpfland[@VERSION]  build a production scheduler of the scx
#                                      project from crates.io into the cache
#   make test-inputs                   the kernel, schedulers and plain kernel `make test` boots

KSRC ?=
SCHEDBOX_RUN ?= cargo run --quiet --release -p schedbox --
KERNEL_BUILD_DEPS := build-essential bc bison flex libelf-dev libzstd-dev zlib1g-dev \
	dwarves zstd xz-utils linux-source-6.12
# For BPF schedulers: the tree's (C, static) and the scx project's (Rust; bindgen needs
# libclang, libbpf-sys pkg-config).
KERNEL_SCX_DEPS := clang-19 llvm-19 libclang-19-dev pkg-config
# A command of each package above, or a file where the package has none to ask for.
KERNEL_DEPS_PRESENT := command -v make && command -v gcc && command -v bc && \
	command -v bison && command -v flex && command -v pahole && command -v zstd && \
	command -v clang-19 && command -v llvm-strip-19 && command -v pkg-config && \
	test -f /usr/src/linux-source-6.12.tar.xz && test -f /usr/include/libelf.h && \
	test -f /usr/include/zlib.h && test -f /usr/include/zstd.h && \
	test -e /usr/lib/llvm-19/lib/libclang.so

.PHONY: kernel kernel-source kernel-deps schedulers scx-selftests scheduler test-inputs test-kernel

SCX_SCHEDULERS := scx_simple scx_qmap
SCX_CLANG ?= clang-19
SCX_LLVM_STRIP ?= llvm-strip-19
# Static: the guest then needs no libraries (libbpf.a from the tree's own build).
SCX_STATIC_LIBS := -lelf -lz -lzstd -lpthread

kernel:
	$(SCHEDBOX_RUN) kernel build $(if $(KSRC),--source $(KSRC))

kernel-source:
	$(SCHEDBOX_RUN) kernel fetch-source

kernel-deps:
	@if ( $(KERNEL_DEPS_PRESENT) ) >/dev/null 2>&1; then \
	    echo "kernel-deps: the kernel and scheduler build dependencies are installed"; \
	else \
	    echo "kernel-deps: installing the kernel and scheduler build dependencies: $(KERNEL_BUILD_DEPS) $(KERNEL_SCX_DEPS)"; \
	    $(SUDO) apt-get update && \
	    DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y --no-install-recommends \
		$(KERNEL_BUILD_DEPS) $(KERNEL_SCX_DEPS); \
	fi

# The schedulers' BPF code is compiled against the BTF of the kernel `make kernel` gives
# for the same tree, then relinked statically (LDFLAGS=-static would break libbpf's shared
# build); they land beside that kernel in the cache (<cache>/kernels/<key>/scx_simple),
# and a second run reuses them. Their paths are printed last.
schedulers:
	@set -e; \
	image=$$($(SCHEDBOX_RUN) kernel build $(if $(KSRC),--source $(KSRC))); \
	dir=$$(dirname "$$image"); \
	if [ -x "$$dir/scx_simple" ] && [ -x "$$dir/scx_qmap" ]; then \
	    echo "schedulers: scx_simple and scx_qmap for this kernel are cached in $$dir" >&2; \
	else \
	    echo "schedulers: building the kernel tree's scx_simple and scx_qmap against $$dir/vmlinux (under a minute)" >&2; \
	    src=$(if $(KSRC),$(abspath $(KSRC)),$$($(SCHEDBOX_RUN) kernel fetch-source)); \
	    mkdir -p "$$dir/scx"; \
	    nice $(MAKE) -s -C "$$src/tools/sched_ext" O="$$dir/scx" CLANG=$(SCX_CLANG) \
		LLVM_STRIP=$(SCX_LLVM_STRIP) VMLINUX_BTF="$$dir/vmlinux" $(SCX_SCHEDULERS) >&2; \
	    for s in $(SCX_SCHEDULERS); do \
		gcc -static -o "$$dir/scx/$$s.static" "$$dir/scx/build/obj/sched_ext/$$s.o" \
		    "$$dir/scx/build/obj/libbpf/libbpf.a" $(SCX_STATIC_LIBS); \
		mv "$$dir/scx/$$s.static" "$$dir/$$s"; \
	    done; \
	fi; \
	for s in $(SCX_SCHEDULERS); do echo "$$dir/$$s"; done

# A production scheduler (scx_bpfland, scx_lavd, ...) from crates.io; prints its path.
scheduler:
	@test -n "$(NAME)" || { echo "make scheduler needs NAME=scx_bpfland[@VERSION]" >&2; exit 2; }
	$(SCHEDBOX_RUN) scheduler build $(NAME)

# What the end-to-end tests boot, built once into the cache: the kernel (LKDTM, sched_ext,
# BTF), the tree's schedulers beside it, and Debian's cloud kernel (no sched_ext).
# Writes the environment `make test` runs the tests with to $(TEST_ENV).
TEST_ENV := target/test-inputs.env
test-inputs: kernel-deps launcher
	@mkdir -p $(dir $(TEST_ENV))
	@MAKE="$(MAKE)" SCHEDBOX=$(SCHEDBOX) kernel/test-inputs.sh > $(TEST_ENV).tmp
	@mv $(TEST_ENV).tmp $(TEST_ENV) && cat $(TEST_ENV)

# An alias of test-inputs.
test-kernel: test-inputs

# The kernel's sched_ext selftests runner (tools/testing/selftests/sched_ext of the same
# tree), for the TAP payload scenario scenarios/selftests/scx-selftests.toml, built as the
# tree builds it (a payload's stdout is a terminal in the guest, so it buffers by line).
# Prints the runner's path.
SCX_SELFTESTS_OUT ?= $(CURDIR)/target/scx-selftests
SCX_SELFTESTS_LIBS := -lelf -lz -lpthread -lzstd
scx-selftests:
	@set -e; \
	image=$$($(SCHEDBOX_RUN) kernel build $(if $(KSRC),--source $(KSRC))); \
	dir=$$(dirname "$$image"); \
	src=$(if $(KSRC),$(abspath $(KSRC)),$$($(SCHEDBOX_RUN) kernel fetch-source)); \
	mkdir -p $(SCX_SELFTESTS_OUT); \
	echo "scx-selftests: building the sched_ext selftests runner against $$dir/vmlinux (about 2 minutes)" >&2; \
	nice $(MAKE) -s -C "$$src/tools/testing/selftests/sched_ext" OUTPUT=$(SCX_SELFTESTS_OUT) \
		CLANG=$(SCX_CLANG) LLVM_STRIP=$(SCX_LLVM_STRIP) VMLINUX_BTF="$$dir/vmlinux" \
		LDFLAGS="$(SCX_SELFTESTS_LIBS)" -j2 >&2; \
	echo $(SCX_SELFTESTS_OUT)/runner
