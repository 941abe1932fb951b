#!/usr/bin/env bash
# Reports the front end's weight as a browser downloads it, each file gzip -9'd,
# in two parts, and fails when the first load is over the budget:
#   - the first load: what every page loads (the main WASM, its JS, the loader
#     of the WASM chunks, the stylesheet);
#   - on first use: the WASM chunks (`wasm_split`, split out by `cargo leptos
#     build --split`) and their stylesheet, loaded when a viewer first
#     opens a detail or the list of keys, moves the selection, has alerts,
#     exports CSV or follows another tab.
#
#   scripts/weight.sh [site-root]      (default: target/site; budget: WEIGHT_BUDGET_KB=150)
set -euo pipefail

site=${1:-target/site}
budget_kb=${WEIGHT_BUDGET_KB:-150}
pkg="$site/pkg"
shopt -s nullglob
first=("$pkg"/tickertape.wasm "$pkg"/tickertape.js "$pkg"/__wasm_split*.js "$pkg"/tickertape.css)
later=("$pkg"/chunk_*.wasm "$pkg"/split_*.wasm "$site"/first-use.css)

kb() { printf '%d.%d KB' $(($1 / 1024)) $((($1 % 1024) * 10 / 1024)); }

# Prints each of the files and their total; sets `sum`.
part() {
  local title=$1
  shift
  sum=0
  printf '%s\n' "$title"
  for file in "$@"; do
    [[ -f $file ]] || { echo "missing $file: run 'make build' first" >&2; exit 1; }
    local raw gz
    raw=$(wc -c <"$file")
    gz=$(gzip -9 -c "$file" | wc -c)
    sum=$((sum + gz))
    printf '  %-44s %8d %8d\n' "$(basename "$file")" "$raw" "$gz"
  done
}

printf '  %-44s %8s %8s\n' file bytes gzip
part "first load" "${first[@]}"
first_total=$sum
printf '  %-44s %8s %8d  (%s; budget %d KB)\n' total "" "$first_total" "$(kb "$first_total")" "$budget_kb"
part "on first use" "${later[@]}"
printf '  %-44s %8s %8d  (%s)\n' total "" "$sum" "$(kb "$sum")"

if ((first_total > budget_kb * 1024)); then
  echo "the first load is over its ${budget_kb} KB budget" >&2
  exit 1
fi
