#!/usr/bin/env bash
# Before/after, back to back: each bench runs from the BEFORE tree, then from the AFTER
# tree (worktrees of two commits), with this checkout's virtual env and each tree's own
# bench scripts (AB_SCRIPTS=here: this checkout's scripts on both sides).
#   bench/ab.sh BEFORE_TREE AFTER_TREE OUT_DIR ingest inbox chains fanout
# Each run's output goes to OUT_DIR/<bench>-<before|after>.log, a summary (times, load
# average, the result table) to OUT_DIR/summary.log.
set -u
if [ $# -lt 4 ]; then sed -n '2,6p' "$0" >&2; exit 2; fi
here=$(cd "$(dirname "$0")/.." && pwd)
before=$(cd "$1" && pwd); after=$(cd "$2" && pwd); out=$3; shift 3
mkdir -p "$out"
run() {  # name, script, args...
  local name=$1 script=$2; shift 2
  for side in before after; do
    local tree=$before; [ $side = after ] && tree=$after
    local scripts=$tree; [ "${AB_SCRIPTS:-}" = here ] && scripts=$here
    echo "== $(date -u +%H:%M:%S) $name $side ($tree): $script $*" | tee -a "$out/summary.log"
    (cd "$tree" && PYTHONPATH="$tree/src" flock /tmp/bench.lock "$here/.venv/bin/python" \
      "$scripts/bench/$script" "$@" > "$out/$name-$side.log" 2>&1)
    echo "   exit $? at $(date -u +%H:%M:%S), load $(cut -d' ' -f1-3 /proc/loadavg)" \
      | tee -a "$out/summary.log"
    grep -E '^\|' "$out/$name-$side.log" >> "$out/summary.log"
  done
}
for what in "$@"; do
  case $what in
    ingest) run ingest ingest.py --what remote --db both ;;
    inbox) run inbox inbox.py --db both --activities 20000 ;;
    chains) run chains chains.py --db both --queries 200 ;;
    fanout) run fanout fanout.py --db both --rounds 2 ;;
    *) echo "unknown bench: $what" >&2; exit 2 ;;
  esac
done
