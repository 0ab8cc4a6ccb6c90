#!/usr/bin/env bash
# Migration linter throughput: lines per second on a generated 50 000-statement file,
# with `wc -l` over the same file as the floor of reading it at all.
#
#   scripts/bench/lint.sh            uses .build/release/ecomansoni if present, else debug
#   ECOMANSONI_BIN=path scripts/bench/lint.sh
# Prints one JSON object on stdout; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/../.."
bin=${ECOMANSONI_BIN:-}
if [ -z "$bin" ]; then
    if [ -x .build/release/ecomansoni ]; then bin=.build/release/ecomansoni; else bin=.build/debug/ecomansoni; fi
fi
[ -x "$bin" ] || { echo "build first: swift build (or -c release)" >&2; exit 2; }
statements=${LINT_BENCH_STATEMENTS:-50000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
file=$work/0001_generated.sql

echo "generating $statements statements" >&2
python3 - "$file" "$statements" <<'PY'
import sys
path, count = sys.argv[1], int(sys.argv[2])
kinds = [
    "CREATE TABLE public.t{i} (id bigint PRIMARY KEY, body text NOT NULL DEFAULT 'a;b', note text);",
    "ALTER TABLE public.t{j} ENABLE ROW LEVEL SECURITY;",
    "INSERT INTO public.t{j} (id, body) VALUES ({i}, E'it\\'s; fine');",
    "UPDATE public.t{j}\n   SET note = 'x'\n WHERE id = {i};",
    "-- a comment that mentions DROP TABLE t{i};\nDELETE FROM public.t{j} WHERE id = {i};",
    "CREATE FUNCTION public.f{i}() RETURNS int LANGUAGE sql AS $fn$ SELECT {i}; $fn$;",
]
with open(path, "w") as out:
    last_table = 0
    for i in range(count):
        kind = kinds[i % len(kinds)]
        if i % len(kinds) == 0:
            last_table = i
        out.write(kind.format(i=i, j=last_table) + "\n")
PY
lines=$(wc -l < "$file")

best() { # best wall time of 3 runs of "$@", in seconds
    local best=""
    for _ in 1 2 3; do
        local start end
        start=$(date +%s.%N)
        "$@" > /dev/null 2>&1 || true
        end=$(date +%s.%N)
        best=$(python3 -c "a='$best'; t=$end-$start; print(t if not a or t < float(a) else a)")
    done
    echo "$best"
}
echo "linting $lines lines with $bin" >&2
lint_s=$(best "$bin" lint-migrations --format json "$file")
wc_s=$(best wc -l "$file")
python3 - "$statements" "$lines" "$lint_s" "$wc_s" "$bin" <<'PY'
import json, sys
statements, lines, lint_s, wc_s, binary = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
print(json.dumps({
    "statements": statements,
    "lines": lines,
    "seconds": round(lint_s, 3),
    "lines_per_second": round(lines / lint_s),
    "wc_seconds": round(wc_s, 4),
    "ratio_to_wc": round(lint_s / wc_s, 1),
    "binary": "release" if "release" in binary else "debug",
    "note": "seconds include process start-up; best of 3",
}))
PY
