#!/usr/bin/env bash
# Every check and every test: static checks first (types, lint, format), then jest's three
# projects (unit, integration, e2e). The last line is the plain "N passed, N failed" summary.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/ensure-chromium.sh

step() {
  local name=$1
  shift
  if ! "$@"; then
    echo "The ${name} check failed; fix it before the tests run."
    echo "0 passed, 1 failed"
    exit 1
  fi
}
step typecheck npx tsc -p tsconfig.json --noEmit
step lint npx eslint --max-warnings 0 .
step format npx prettier --check --log-level warn .

npx jest --ci "$@"
