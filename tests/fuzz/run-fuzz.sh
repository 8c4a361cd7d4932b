#!/bin/sh
# run-fuzz.sh <build-dir> <seconds> — run every libFuzzer target built in
# <build-dir> (configured with -DSKV_FUZZ=ON -DCMAKE_C_COMPILER=clang) for
# <seconds> each, starting from a copy of its seed corpus in
# tests/fuzz/corpus/<name> (fuzz_resp uses corpus/resp, fuzz_rdb corpus/rdb,
# fuzz_listpack corpus/listpack, fuzz_intset corpus/intset, fuzz_restore
# corpus/restore, fuzz_zset corpus/zset, fuzz_quicklist corpus/quicklist,
# fuzz_script corpus/script, fuzz_script_libs corpus/script_libs,
# fuzz_function corpus/function; a
# <name>.dict next to this script is passed as -dict), so the repository
# never grows. Exits non-zero if any target crashes or fails a check; the
# reproducing input is kept and its path printed.
set -u

if [ $# -ne 2 ]; then
    echo "usage: $0 <build-dir> <seconds>" >&2
    exit 2
fi
build=$1
secs=$2
here=$(cd "$(dirname "$0")" && pwd)

targets=$(find "$build" -type f -perm -u+x -name 'fuzz_*' 2>/dev/null | sort)
if [ -z "$targets" ]; then
    echo "run-fuzz: no fuzz_* executables under $build (configure with -DSKV_FUZZ=ON -DCMAKE_C_COMPILER=clang)" >&2
    exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/skv-fuzz.XXXXXX")
status=0
for bin in $targets; do
    name=$(basename "$bin")
    short=${name#fuzz_}
    corpus="$work/$short/corpus"
    artifacts="$work/$short/artifacts"
    mkdir -p "$corpus" "$artifacts"
    if [ -d "$here/corpus/$short" ]; then
        cp "$here/corpus/$short"/* "$corpus"/ 2>/dev/null
    fi
    dict=""
    if [ -f "$here/$short.dict" ]; then
        dict="-dict=$here/$short.dict"
    fi
    echo "run-fuzz: $name for ${secs}s ($(find "$corpus" -type f | wc -l) seeds)"
    # -timeout: one input taking over 10 s is a hang, reported as a failure.
    # shellcheck disable=SC2086
    if "$bin" -max_total_time="$secs" -timeout=10 -print_final_stats=1 \
            -artifact_prefix="$artifacts/" $dict "$corpus" > "$work/$short/log" 2>&1; then
        tail -n 3 "$work/$short/log" | sed "s/^/run-fuzz: $name: /"
        grep -E '^stat::number_of_executed_units' "$work/$short/log" | sed "s/^/run-fuzz: $name: /"
    else
        status=1
        echo "run-fuzz: $name FAILED; log $work/$short/log" >&2
        grep -E 'ERROR|check failed|SUMMARY|Test unit written' "$work/$short/log" | head -n 20 >&2
        for crash in "$artifacts"/*; do
            [ -e "$crash" ] && echo "run-fuzz: reproduce with: $bin $crash" >&2
        done
    fi
done

if [ $status -eq 0 ]; then
    rm -rf "$work"
    echo "run-fuzz: all targets passed"
else
    echo "run-fuzz: failures kept in $work" >&2
fi
exit $status
