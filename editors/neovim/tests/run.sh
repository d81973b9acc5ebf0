#!/usr/bin/env bash
# Headless Neovim tests of the MiniCode plugin, against the real `minicode-lsp serve` and the
# scripted model server (one per test file, fed tests/fixtures/<test>.json).
#
#   bash editors/neovim/tests/run.sh [test_name ...]
#
# env: NVIM (default: the repo's .venv/bin/nvim, else nvim on PATH), MINICODE_PYTHON (a python
# with minicode_lsp installed; default .venv/bin/python), MINICODE_SERVER (default: the
# minicode-lsp next to that python), MINICODE_TEST_TIMEOUT (seconds per test file, default 150),
# KEEP=1 keeps the temporary directory.
# Every test gets private XDG_* dirs; nvim has an in-process watchdog and an outer `timeout`.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
PLUGIN=$(dirname "$HERE")
REPO=$(cd "$PLUGIN/../.." && pwd)

NVIM=${NVIM:-}
if [ -z "$NVIM" ]; then
  if [ -x "$REPO/.venv/bin/nvim" ]; then NVIM="$REPO/.venv/bin/nvim"; else NVIM=$(command -v nvim || true); fi
fi
PY=${MINICODE_PYTHON:-$REPO/.venv/bin/python}
SERVER=${MINICODE_SERVER:-$(dirname "$PY")/minicode-lsp}
TIMEOUT=${MINICODE_TEST_TIMEOUT:-150}

for f in "$NVIM" "$PY" "$SERVER"; do
  if [ -z "$f" ] || [ ! -x "$f" ]; then
    echo "run.sh: not executable: '$f' (set NVIM / MINICODE_PYTHON / MINICODE_SERVER)" >&2
    echo "0 passed, 1 failed"
    exit 1
  fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/minicode-nvim.XXXXXX")
MODEL_PID=""
stop_model() {
  if [ -n "$MODEL_PID" ]; then
    kill "$MODEL_PID" 2>/dev/null
    wait "$MODEL_PID" 2>/dev/null
    MODEL_PID=""
  fi
}
cleanup() {
  stop_model
  if [ "${KEEP:-0}" = "1" ]; then echo "kept $TMP"; else rm -rf "$TMP"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$NVIM" --version | head -1
echo "server: $SERVER"

if [ "$#" -gt 0 ]; then
  tests=()
  for name in "$@"; do tests+=("$HERE/${name%.lua}.lua"); done
else
  tests=("$HERE"/test_*.lua)
fi

passed=0
failed=0
start_all=$(date +%s)
for test in "${tests[@]}"; do
  name=$(basename "$test" .lua)
  dir="$TMP/$name"
  mkdir -p "$dir/xdg/config" "$dir/xdg/data" "$dir/xdg/state" "$dir/xdg/cache" "$dir/ws"
  model_url=""
  script="$HERE/fixtures/$name.json"
  if [ -f "$script" ]; then
    "$PY" -m minicode_lsp.testing.model_server --script "$script" --port-file "$dir/model_url" \
      >"$dir/model.log" 2>&1 &
    MODEL_PID=$!
    for _ in $(seq 1 200); do
      [ -s "$dir/model_url" ] && break
      sleep 0.05
    done
    model_url=$(cat "$dir/model_url" 2>/dev/null || true)
    if [ -z "$model_url" ]; then
      echo "FAIL $name: the scripted model server did not start"; cat "$dir/model.log"
      failed=$((failed + 1)); stop_model; continue
    fi
  fi
  t0=$(date +%s.%N)
  ( cd "$dir/ws" && env \
      XDG_CONFIG_HOME="$dir/xdg/config" XDG_DATA_HOME="$dir/xdg/data" \
      XDG_STATE_HOME="$dir/xdg/state" XDG_CACHE_HOME="$dir/xdg/cache" \
      MINICODE_CONFIG="$dir/xdg/config/minicode-user.toml" \
      MINICODE_TEST_DIR="$dir" MINICODE_WS="$dir/ws" MINICODE_MODEL_URL="$model_url" \
      MINICODE_SERVER="$SERVER" MINICODE_PLUGIN="$PLUGIN" MINICODE_TESTS="$HERE" MINICODE_PYTHON="$PY" MINICODE_TEST="$test" \
      timeout -k 5 "$TIMEOUT" "$NVIM" --headless -u "$HERE/minimal_init.lua" -i NONE \
        -c "luafile $HERE/runner.lua" >"$dir/out.log" 2>&1 )
  rc=$?
  stop_model
  t1=$(date +%s.%N)
  sed "s/^/  [$name] /" "$dir/out.log"
  touch "$dir/results"
  p=$(grep -c '^PASS' "$dir/results")
  f=$(grep -c '^FAIL' "$dir/results")
  if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
    echo "  [$name] FAIL exit code $rc (crash or timeout)"
    f=1
  fi
  if [ "$f" -gt 0 ] && [ -f "$dir/xdg/state/nvim/lsp.log" ]; then
    echo "  [$name] --- tail of lsp.log"
    tail -n 40 "$dir/xdg/state/nvim/lsp.log" | sed "s/^/  [$name] /"
  fi
  awk -v n="$name" -v p="$p" -v f="$f" -v a="$t0" -v b="$t1" 'BEGIN { printf "%s: %d passed, %d failed (%.1fs)\n", n, p, f, b - a }'
  passed=$((passed + p))
  failed=$((failed + f))
done
echo "total time $(( $(date +%s) - start_all ))s"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
