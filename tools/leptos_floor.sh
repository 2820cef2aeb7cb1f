#!/usr/bin/env bash
# What Leptos itself costs a chat widget: builds tools/leptos-floor (a counter, and with
# `--features chat` a bare chat shell: Show, For, a form with a textarea) with the widget's
# wasm-release profile and dist's wasm-bindgen flags, and prints brotli -q 11 sizes
# (needs Python's brotli: `pip install brotli`).
set -euo pipefail
cd "$(dirname "$0")/leptos-floor"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
for f in counter chat; do
  feat=(); [ "$f" = chat ] && feat=(--features chat)
  cargo build --quiet --target wasm32-unknown-unknown --profile wasm-release "${feat[@]}"
  out="$CARGO_TARGET_DIR/floor-$f"; rm -rf "$out"
  wasm-bindgen --target web --no-typescript --remove-name-section --remove-producers-section \
    --out-dir "$out" "$CARGO_TARGET_DIR/wasm32-unknown-unknown/wasm-release/leptos_floor.wasm"
  python3 - "$f" "$out"/leptos_floor_bg.wasm "$out"/leptos_floor.js <<'PY'
import sys, brotli
sizes = [len(brotli.compress(open(p, "rb").read(), quality=11)) for p in sys.argv[2:]]
print(f"{sys.argv[1]}: wasm {sizes[0]:,} B, glue {sizes[1]:,} B, together {sum(sizes):,} B brotli")
PY
done
