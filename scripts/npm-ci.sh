#!/usr/bin/env bash
# npm-ci.sh DIR: installs DIR's npm packages into DIR/node_modules from its committed
# package-lock.json (npm ci). Re-runs only when the lock file changed since the last
# install. Used by deploy/tools/install.sh and tests/browser/install.sh.
set -euo pipefail
cd "$1"
name=$1
stamp=node_modules/.installed-lock
if [ -f "$stamp" ] && cmp -s package-lock.json "$stamp"; then
  exit 0
fi
command -v npm >/dev/null || { echo "$name: npm not found (Node >= 18 + npm needed)" >&2; exit 1; }
# Node trusts only its own CA list unless told otherwise: let it use the system's store
# too, so a registry reached through a proxy the machine trusts works.
if [ -z "${NODE_EXTRA_CA_CERTS:-}" ] && [ -s /etc/ssl/certs/ca-certificates.crt ]; then
  export NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
fi
echo "$name: npm ci" >&2
npm ci --no-audit --no-fund --loglevel=error >&2
cp package-lock.json "$stamp"
