#!/bin/sh
# Boots the release build of schedbox-init under QEMU (TCG) with a plan and checks that
# the guest reported `boot` and `done`, ended the VM by itself, and never let the kernel
# panic on PID 1. Prints the records. A developer's tool: the project's end-to-end tests
# go through the launcher.
#
# usage: init/tests/boot.sh PLAN [KERNEL] [CPUS]
#   KERNEL defaults to ../shared/kernels/scx/bzImage (relative to the repo root).
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
plan=$1
kernel=${2:-$here/../../shared/kernels/scx/bzImage}
cpus=${3:-2}
init=$here/target/release/schedbox-init
[ -x "$init" ] || { echo "build first: (cd init && cargo build --release)" >&2; exit 2; }
[ -f "$kernel" ] || { echo "no kernel at $kernel: pass one as the second argument" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/root"
cp "$init" "$work/root/init"
cp "$plan" "$work/root/plan"
(cd "$work/root" && printf 'init\nplan\n' | cpio -o -H newc --quiet >"$work/initrd.cpio")

rc=0
timeout 120 qemu-system-x86_64 -nographic -no-reboot -m 256 -smp "$cpus" -display none -monitor none \
    -kernel "$kernel" -initrd "$work/initrd.cpio" \
    -append "console=ttyS0 rdinit=/init panic=-1 reboot=k" \
    -serial "file:$work/console.log" -serial "file:$work/records.log" || rc=$?
cat "$work/records.log"

fail=0
[ "$rc" = 124 ] && { echo "FAIL: the VM did not end within 120 s" >&2; fail=1; }
grep -q '^SBX1 boot ' "$work/records.log" || { echo "FAIL: no boot record" >&2; fail=1; }
grep -q '^SBX1 done status=' "$work/records.log" || { echo "FAIL: no done record" >&2; fail=1; }
if grep -q 'Attempted to kill init' "$work/console.log"; then
    echo "FAIL: the kernel panicked on PID 1" >&2
    fail=1
fi
[ "$fail" = 0 ] || { tail -30 "$work/console.log" >&2; exit 1; }
