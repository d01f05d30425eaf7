#!/bin/sh
# Boots each plan of init/tests/plans (or those given) with boot.sh and compares the
# guest's check records with the plan's `# expect: <check> pass|fail` lines, in order.
# Prints each check record; exits 1 if any expectation or boot failed.
#
# usage: init/tests/checks.sh [PLAN...]
set -u
here=$(cd "$(dirname "$0")" && pwd)
[ $# -gt 0 ] || set -- "$here"/plans/*.plan
bad=0
for plan in "$@"; do
    name=$(basename "$plan")
    out=$("$here/boot.sh" "$plan" 2>&1) || { echo "FAIL $name: boot failed"; echo "$out" | tail -20; bad=1; continue; }
    echo "$out" | grep -E '^SBX1 (check|kmsg|stall|error) ' | sed "s/^/  $name: /"
    echo "$out" | grep -q '^SBX1 done status=ok' || { echo "FAIL $name: no done status=ok"; bad=1; }
    got=$(echo "$out" | sed -n 's/^SBX1 check .* name=\([^ ]*\) result=\([a-z]*\) .*/\1 \2/p')
    want=$(sed -n 's/^# expect: //p' "$plan")
    for w in $(echo "$want" | tr ' ' ':'); do
        w=$(echo "$w" | tr ':' ' ')
        if echo "$got" | grep -qx "$w"; then
            got=$(echo "$got" | awk -v w="$w" 'done || $0 != w {print; next} {done=1}')
        else
            echo "FAIL $name: expected check \"$w\""
            bad=1
        fi
    done
done
[ "$bad" = 0 ] && echo "all plans gave the expected check results"
exit "$bad"
