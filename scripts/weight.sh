#!/usr/bin/env bash
# Reports the front end's weight as a browser downloads it (WASM + JS + CSS of a
# release build, each gzip -9'd) and fails when the total is over the budget.
#
#   scripts/weight.sh [site-root]      (default: target/site; budget: WEIGHT_BUDGET_KB=150)
set -euo pipefail

site=${1:-target/site}
budget_kb=${WEIGHT_BUDGET_KB:-150}
pkg="$site/pkg"
files=("$pkg"/*.wasm "$pkg"/*.js "$pkg"/*.css)

total=0
printf '%-28s %10s %10s\n' file bytes gzip
for file in "${files[@]}"; do
  [[ -f $file ]] || { echo "missing $file: run 'make build' first" >&2; exit 1; }
  raw=$(wc -c <"$file")
  gz=$(gzip -9 -c "$file" | wc -c)
  total=$((total + gz))
  printf '%-28s %10d %10d\n' "$(basename "$file")" "$raw" "$gz"
done
printf '%-28s %10s %10d  (%d.%d KB; budget %d KB)\n' total "" "$total" \
  $((total / 1024)) $(((total % 1024) * 10 / 1024)) "$budget_kb"

if ((total > budget_kb * 1024)); then
  echo "the front end is over its ${budget_kb} KB budget" >&2
  exit 1
fi
