#!/usr/bin/env bash
# Install what the VS Code e2e test needs, idempotently:
#   - Debian packages (only the missing ones): chromium, ripgrep, libkrb5-dev, build-essential,
#     pkg-config, curl, python3
#   - code-server $CODE_SERVER_VERSION from npm into $MINICODE_TOOLS/code-server (default
#     <repo>/.tools/code-server, git-ignored), working around what its install script would
#     download (ripgrep from GitHub -> Debian's rg; root check; node-gyp via npx).
# usage: install-code-server.sh            (prints the code-server binary path on its last line)
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VERSION="${CODE_SERVER_VERSION:-4.100.3}"   # VS Code 1.100: the last code-server whose engines.node is 20
TOOLS="${MINICODE_TOOLS:-$ROOT/.tools}"
DEST="$TOOLS/code-server"
MARK="$DEST/.installed-$VERSION"

need_apt=()
command -v chromium >/dev/null || need_apt+=(chromium)
command -v rg >/dev/null || need_apt+=(ripgrep)
command -v curl >/dev/null || need_apt+=(curl)
command -v pkg-config >/dev/null || need_apt+=(pkg-config)
command -v python3 >/dev/null || need_apt+=(python3)
dpkg -s build-essential >/dev/null 2>&1 || need_apt+=(build-essential)
if [ ! -f "$MARK" ]; then dpkg -s libkrb5-dev >/dev/null 2>&1 || need_apt+=(libkrb5-dev); fi
if [ ${#need_apt[@]} -gt 0 ]; then
  echo "install-code-server: apt-get install ${need_apt[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >&2
  apt-get install -y -qq "${need_apt[@]}" >&2
fi

if [ -f "$MARK" ] && [ -x "$DEST/node_modules/.bin/code-server" ]; then
  echo "$DEST/node_modules/.bin/code-server"
  exit 0
fi

echo "install-code-server: installing code-server $VERSION into $DEST (about 2 minutes, 300 MB)" >&2
export npm_config_yes=true npm_config_fund=false npm_config_audit=false
rm -rf "$DEST" && mkdir -p "$DEST"
cd "$DEST"
{
  npm init -y >/dev/null
  # 1. top level without lifecycle scripts (code-server's postinstall.sh would download things)
  npm install --ignore-scripts --no-save "code-server@$VERSION"
  npm rebuild argon2 --foreground-scripts
  # 2. what postinstall.sh's vscode_install() does, with ripgrep pre-seeded from Debian
  cd node_modules/code-server/lib/vscode
  npm install --omit=dev --ignore-scripts
  mkdir -p node_modules/@vscode/ripgrep/bin
  ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
  npm rebuild --foreground-scripts
  rm -rf node_modules.asar && ln -s node_modules node_modules.asar
  (cd bin/remote-cli && ln -sf code-linux.sh code-server)
  (cd bin/helpers && ln -sf browser-linux.sh browser.sh)
  cd extensions
  npm install --omit=dev
} >&2
touch "$MARK"
echo "install-code-server: code-server $VERSION installed" >&2
echo "$DEST/node_modules/.bin/code-server"
