#!/usr/bin/env bash
# Installs playwright-core into tests/browser/node_modules from the committed
# package-lock.json (npm ci), as deploy/tools/install.sh does for the deploy checkers.
# No browser is downloaded: the tests drive Debian's chromium (scripts/install-deps.sh).
# Needs Node >= 18 (Debian 12's) and npm. Re-runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")"
command -v node >/dev/null || { echo "tests/browser: node not found (Node >= 18 + npm needed)" >&2; exit 1; }
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
  echo "tests/browser: playwright-core needs Node >= 18; $(command -v node) is $(node --version)" >&2
  exit 1
fi
# playwright-core has no install script, and none may download a browser here anyway.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
cd ../..
exec bash scripts/npm-ci.sh tests/browser
