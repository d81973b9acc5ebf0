#!/usr/bin/env bash
# End-to-end test of the VS Code extension in the real workbench:
# code-server 4.100.3 (from npm) + the built .vsix + the real `minicode-lsp serve` + the
# scripted model server on 127.0.0.1, driven by playwright-core in Debian's Chromium.
#
# usage: bash editors/vscode/scripts/e2e.sh
# Installs what is missing (idempotent): Debian chromium, ripgrep, libkrb5-dev, build-essential,
# pkg-config, curl, python3; code-server under $MINICODE_TOOLS (default <repo>/.tools); the
# extension's npm devDependencies (npm ci). Needs the project's venv (<repo>/.venv, or
# $MINICODE_VENV) with minicode-lsp installed.
# Screenshots and logs: <repo>/artifacts/vscode/ (every run). Exit code = result; the last
# line says "1 passed, 0 failed" or "0 passed, 1 failed". A watchdog ($E2E_TIMEOUT seconds,
# default 900, install included) ends everything if it hangs.
set -u
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
EXT="$(cd "$HERE/.." && pwd)"
ROOT="$(cd "$EXT/../.." && pwd)"
ART="${E2E_ARTIFACTS:-$ROOT/artifacts/vscode}"

if [ -z "${MINICODE_E2E_INNER:-}" ]; then
  limit="${E2E_TIMEOUT:-900}"
  start=$(date +%s)
  # timeout runs the inner script in its own process group and signals the whole group
  MINICODE_E2E_INNER=1 timeout -k 15 "$limit" bash "${BASH_SOURCE[0]}" "$@"
  rc=$?
  if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
    echo "e2e: watchdog: no result after ${limit}s, everything stopped (artifacts in $ART)"
    rc=1
  fi
  echo "e2e: took $(( $(date +%s) - start ))s"
  if [ "$rc" -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; fi
  exit "$rc"
fi

set -eo pipefail
log() { echo "e2e: $*"; }
TOOLS="${MINICODE_TOOLS:-$ROOT/.tools}"
VENV="${MINICODE_VENV:-$ROOT/.venv}"
WORK="${E2E_WORK:-$TOOLS/vscode-e2e}"
mkdir -p "$ART"
[ -n "${E2E_DRIVER:-}" ] || rm -f "$ART"/*.png "$ART"/*.log
rm -rf "$ART/logs"

# ------------------------------------------------------------------ tools
CS_BIN="$(bash "$HERE/install-code-server.sh" | tail -n 1)"
[ -x "$CS_BIN" ] || { log "code-server not installed"; exit 1; }
[ -x "$VENV/bin/minicode-lsp" ] || { log "no $VENV/bin/minicode-lsp: install the project first (make, or pip install -e .)"; exit 1; }
PY="$VENV/bin/python"

# ------------------------------------------------------------------ the extension
cd "$EXT"
if [ ! -d node_modules/vscode-languageclient ] || [ ! -d node_modules/playwright-core ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "npm ci"
  npm ci --no-audit --no-fund >/dev/null
fi
log "building the .vsix"
npm run -s package >"$ART/package.log" 2>&1 || { cat "$ART/package.log"; exit 1; }
VSIX="$EXT/minicode-lsp.vsix"

# ------------------------------------------------------------------ a private world
rm -rf "$WORK"
mkdir -p "$WORK"/{ws,ud/User,exts,xdg/config,xdg/data,xdg/cache,xdg/state,store}
export XDG_CONFIG_HOME="$WORK/xdg/config" XDG_DATA_HOME="$WORK/xdg/data" XDG_CACHE_HOME="$WORK/xdg/cache" XDG_STATE_HOME="$WORK/xdg/state"
# no user config file: only the workspace's counts (in a folder of its own: the user config's
# folder is off limits to the agent's file tools, and the workspace must not be inside it)
mkdir -p "$WORK/user-config"
export MINICODE_CONFIG="$WORK/user-config/config.toml"

PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
  # logs of this run: code-server's, the model server's, and the extension host's (MiniCode output)
  cp "$WORK"/*.log "$ART/" 2>/dev/null || true
  [ -d "$WORK/ud/logs" ] && cp -r "$WORK/ud/logs" "$ART/logs" 2>/dev/null || true
}
trap cleanup EXIT

# the scripted model (ask mode): stream a reply and fix the bug (approved inline), propose a
# second edit (rejected inline), run a command (approved inline: its output and exit code show),
# finish; the follow-up turn runs a failing command (allowed for the session) and finishes
cat >"$WORK/script.json" <<'JSON'
[
  {"reasoning": "add() subtracts: the operator is wrong.", "text": "The subtraction is the bug. I will change `a - b` to `a + b` in **calc.py**, then check it.", "chunk_delay_s": 0.08,
   "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "return a - b", "new_text": "return a + b"}}]},
  {"text": "I could also add a docstring.",
   "tool_calls": [{"name": "edit_file", "arguments": {"path": "calc.py", "old_text": "def add(a, b):\n", "new_text": "def add(a, b):\n    \"\"\"Add two numbers.\"\"\"\n"}}]},
  {"text": "Fine, no docstring. Let me run it.",
   "tool_calls": [{"name": "run_command", "arguments": {"command": "python3 -c \"import calc; print('add(2, 3) =', calc.add(2, 3))\""}}]},
  {"text": "Done: `add()` now adds.\n\n- fixed `calc.py`\n- checked `add(2, 3) == 5`", "chunk_delay_s": 0.03},
  {"text": "Let me run the test suite.",
   "tool_calls": [{"name": "run_command", "arguments": {"command": "python3 -c \"import sys; print('test_add ... ok'); print('test_sub ... FAIL'); print('FAILED (failures=1)'); sys.exit(1)\""}}]},
  {"text": "One test fails: `test_sub` has no function to test yet. Nothing else to change in `add()`."}
]
JSON
"$PY" -m minicode_lsp.testing.model_server --script "$WORK/script.json" --port 0 --port-file "$WORK/model-url" >"$WORK/model-server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 100); do [ -s "$WORK/model-url" ] && break; sleep 0.1; done
[ -s "$WORK/model-url" ] || { log "the scripted model server did not start"; cat "$WORK/model-server.log"; exit 1; }
BASE_URL="$(head -n 1 "$WORK/model-url" | tr -d '[:space:]')"
case "$BASE_URL" in */v1) ;; *) BASE_URL="$BASE_URL/v1" ;; esac
log "scripted model at $BASE_URL"

# the sample workspace
cat >"$WORK/ws/calc.py" <<'PYEOF'
def add(a, b):
    return a - b
PYEOF
cat >"$WORK/ws/.minicode.toml" <<TOML
[[providers]]
name = "scripted"
kind = "openai"
baseUrl = "$BASE_URL"
model = "scripted"

[agent]
permissionMode = "ask"

[store]
path = "$WORK/store"
TOML
# the workspace's providers and store path take effect only once this exact file is allowed
# (workspace trust; recorded under $XDG_STATE_HOME, which the server inherits)
"$VENV/bin/minicode-lsp" trust --workspace "$WORK/ws" --yes >"$WORK/trust.log" 2>&1 || { cat "$WORK/trust.log"; exit 1; }

# user settings: the venv's server (or \$E2E_SERVER_COMMAND, a JSON array), and a quiet workbench
SERVER_COMMAND_JSON="${E2E_SERVER_COMMAND:-}"
[ -n "$SERVER_COMMAND_JSON" ] || SERVER_COMMAND_JSON="[\"$VENV/bin/minicode-lsp\", \"serve\"]"
cat >"$WORK/ud/User/settings.json" <<JSON
{
  "minicode.server.command": $SERVER_COMMAND_JSON,
  "minicode.server.env": { "MINICODE_CONFIG": "$MINICODE_CONFIG" },
  "workbench.startupEditor": "none",
  "workbench.tips.enabled": false,
  "workbench.enableExperiments": false,
  "security.workspace.trust.enabled": false,
  "telemetry.telemetryLevel": "off",
  "extensions.autoUpdate": false,
  "extensions.autoCheckUpdates": false,
  "extensions.ignoreRecommendations": true,
  "update.mode": "none",
  "git.enabled": false,
  "files.autoSave": "off",
  "editor.minimap.enabled": false
}
JSON

log "installing the .vsix into code-server"
"$CS_BIN" --user-data-dir "$WORK/ud" --extensions-dir "$WORK/exts" --install-extension "$VSIX" >"$WORK/install.log" 2>&1 \
  || { cat "$WORK/install.log"; exit 1; }

PORT="$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
printf 'bind-addr: 127.0.0.1:%s\nauth: none\ncert: false\n' "$PORT" >"$WORK/config.yaml"
"$CS_BIN" --config "$WORK/config.yaml" --bind-addr "127.0.0.1:$PORT" --auth none \
  --user-data-dir "$WORK/ud" --extensions-dir "$WORK/exts" \
  --disable-telemetry --disable-update-check --disable-workspace-trust \
  --disable-getting-started-override --disable-proxy \
  "$WORK/ws" >"$WORK/code-server.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 480); do curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" && break; sleep 0.25; done
curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz" || { log "code-server did not start"; cat "$WORK/code-server.log"; exit 1; }
log "code-server on 127.0.0.1:$PORT"

E2E_URL="http://127.0.0.1:$PORT/?folder=$WORK/ws" E2E_WS="$WORK/ws" E2E_ARTIFACTS="$ART" E2E_MODEL_URL="${BASE_URL%/v1}" \
  node "$EXT/${E2E_DRIVER:-test/e2e/e2e.js}"
