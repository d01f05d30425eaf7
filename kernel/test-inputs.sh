#!/usr/bin/env bash
# What the end-to-end tests boot, built once into the schedbox cache (~/.cache/schedbox):
# schedbox's own sched_ext kernel (Debian's linux-source-6.12 + kernel/schedbox.config),
# the tree's scx_simple and scx_qmap beside it, and Debian's cloud kernel (no sched_ext).
# Prints the environment the tests read (`make test` exports it):
#   SCHEDBOX_KERNEL        the kernel (a $SCHEDBOX_KERNEL given by the caller is kept)
#   SCHEDBOX_SCHEDULERS    the folder holding scx_simple and scx_qmap
#   SCHEDBOX_PLAIN_KERNEL  a kernel without sched_ext
# Everything else goes to stderr. Run from the repository root; needs make kernel-deps.
set -euo pipefail

MAKE=${MAKE:-make}
SCHEDBOX=${SCHEDBOX:-target/release/schedbox}
# Long builds yield to the rest of the machine.
NICE="nice -n ${SCHEDBOX_BUILD_NICE:-10}"

say() { echo "test-inputs: $*" >&2; }

if [ -n "${SCHEDBOX_KERNEL:-}" ]; then
    kernel=$SCHEDBOX_KERNEL
    say "SCHEDBOX_KERNEL is set: the tests boot $kernel"
    schedulers=${SCHEDBOX_SCHEDULERS:-$(dirname "$kernel")}
else
    say "the tests boot schedbox's own sched_ext kernel (LKDTM, debugfs, sysrq, BTF) and \
the tree's scx_simple/scx_qmap; built once, then reused from the cache"
    image=$($NICE $MAKE -s --no-print-directory schedulers SCHEDBOX_RUN="$SCHEDBOX" | tail -n 1)
    kernel=$(dirname "$image")/bzImage
    schedulers=$(dirname "$image")
fi

cache=${SCHEDBOX_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/schedbox}
plain=${SCHEDBOX_PLAIN_KERNEL:-}
if [ -z "$plain" ]; then
    plain=$(ls -t "$cache"/kernels/vmlinuz-* 2>/dev/null | head -n 1 || true)
fi
if [ -z "$plain" ]; then
    say "the tests also boot a kernel without sched_ext: caching Debian's cloud kernel"
    apt-cache show linux-image-cloud-amd64 >/dev/null 2>&1 || apt-get update >&2
    plain=$("$SCHEDBOX" kernel fetch)
fi

echo "SCHEDBOX_KERNEL=$kernel"
echo "SCHEDBOX_SCHEDULERS=$schedulers"
echo "SCHEDBOX_PLAIN_KERNEL=$plain"
