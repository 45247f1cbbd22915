#!/usr/bin/env bash
# A/B of the pipeline bench: runs of REV (checked out in a temporary worktree) and of the working tree
# take turns, PAIRS times, and the medians are printed. One run's Worker CPU figure moves by up to a
# millisecond on a 2-core machine (bench/README.md), so a change is judged on medians of pairs.
#
#   bench/ab-pipeline.sh REV [PAIRS=3] [SNAPSHOTS=1200]
#
# REV shares this tree's node_modules: compare revisions with the same package-lock.json.
set -euo pipefail

rev=${1:?usage: bench/ab-pipeline.sh REV [PAIRS] [SNAPSHOTS]}
pairs=${2:-3}
snapshots=${3:-1200}
root=$(git rev-parse --show-toplevel)
base=$(mktemp -d)/base
results=$(mktemp)

git -C "$root" worktree add --detach --quiet "$base" "$rev"
trap 'git -C "$root" worktree remove --force "$base"; rm -f "$results"' EXIT
ln -s "$root/node_modules" "$base/node_modules"
(cd "$base" && npm run build >/dev/null)
(cd "$root" && npm run build >/dev/null)

for i in $(seq "$pairs"); do
  for side in base head; do
    tree=$([ "$side" = base ] && echo "$base" || echo "$root")
    (cd "$tree" && npm run bench -- --only pipeline --snapshots "$snapshots" >/dev/null)
    node -e '
      const p = require(process.argv[1]).pipeline;
      console.log(JSON.stringify({ side: process.argv[2], worker: p.workerCpuMsPerSnapshot,
        gc: p.workerGcMsPerSnapshot, perSec: p.snapshotsPerSec, workerd: p.cpuMsPerSnapshot }));
    ' "$tree/bench/results/latest.json" "$side" | tee -a "$results"
  done
done

node -e '
  const runs = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
  const median = (xs) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1;
    return s.length % 2 ? s[m] : Math.round(((s[m - 1] + s[m]) / 2) * 100) / 100; };
  const rows = {};
  for (const side of ["base", "head"]) {
    const mine = runs.filter((r) => r.side === side);
    rows[side === "base" ? process.argv[2] : "working tree"] = Object.fromEntries(
      ["worker", "gc", "perSec", "workerd"].map((k) => [k, median(mine.map((r) => r[k]))]));
  }
  console.log("medians: worker = Worker CPU-ms per snapshot (profiled), workerd = process CPU-ms");
  console.table(rows);
' "$results" "$rev"
