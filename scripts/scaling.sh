#!/usr/bin/env bash
# How sim time and memory grow with the fleet: runs scenarios/fleet-xl.yaml (24 h, Argo
# CD and GitHub Actions presets, drift and a bad release) at several fleet sizes on one
# worker thread and prints a Markdown table for docs/PERFORMANCE.md.
# Usage: scripts/scaling.sh [THREADS]   (build first: cargo build --release)
set -euo pipefail
cd "$(dirname "$0")/.."
threads="${1:-1}"
bin=./target/release/pushpull
[ -x "$bin" ] || { echo "build first: cargo build --release" >&2; exit 3; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "| clusters × apps | Deployments | events | wall (s) | events/s | peak RSS (MiB) | RSS per Deployment (KiB) |"
echo "|---|---|---|---|---|---|---|"
for size in "1 10" "10 10" "10 100" "100 100" "1000 100"; do
    set -- $size
    sed -e "s/^  clusters: .*/  clusters: $1/" -e "s/^  apps: .*/  apps: $2/" \
        scenarios/fleet-xl.yaml > "$tmp/s.yaml"
    /usr/bin/time -f "%e %M" -o "$tmp/time" "$bin" run "$tmp/s.yaml" --out "$tmp/out" \
        --threads "$threads" --format json > "$tmp/summary.json"
    read -r wall rss < "$tmp/time"
    events=$(python3 -c "import json;print(json.load(open('$tmp/summary.json'))['engine']['events'])")
    deployments=$(( $1 * $2 ))
    python3 - "$1" "$2" "$deployments" "$events" "$wall" "$rss" <<'PY'
import sys
c, a, d, ev, wall, rss = sys.argv[1:]
d, ev, wall, rss = int(d), int(ev), float(wall), int(rss)
print(f"| {c} × {a} | {d:,} | {ev:,} | {wall:.2f} | {ev / max(wall, 1e-3) / 1e6:.1f} M | {rss / 1024:.0f} | {rss / d:.1f} |")
PY
done
