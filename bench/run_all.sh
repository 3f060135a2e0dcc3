#!/usr/bin/env bash
# Run every benchmark one after another (they each want the whole machine), keep each one's
# full output in $OUT (default /tmp/kling-bench), and print the summary lines at the end.
# Exit status: non-zero if any benchmark missed its target (or failed).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-/tmp/kling-bench}"
mkdir -p "$OUT"
command -v curl >/dev/null || { echo "bench/download.py needs curl: apt-get install -y curl"; exit 2; }

status=0
for name in polling ledger download sweep kernel soak; do
    echo "== bench/$name.py  (full output: $OUT/$name.txt)"
    start=$(date +%s)
    python "bench/$name.py" >"$OUT/$name.txt" 2>"$OUT/$name.err" || status=1
    echo "   $(( $(date +%s) - start )) s: $(grep '^SUMMARY' "$OUT/$name.txt" || echo 'no summary: see the .err file')"
done
exit $status
