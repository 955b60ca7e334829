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

summary=$(mktemp)
trap 'rm -f "$summary"' EXIT
status=0
TEST_SUMMARY_FILE="$summary" npx jest --ci "$@" || status=$?
# jest prints its own summary last; the plain line CI reads comes after it.
if [ -s "$summary" ]; then
  cat "$summary"
else
  echo "jest ended without a summary (exit ${status})."
  echo "0 passed, 1 failed"
  [ "$status" -ne 0 ] || status=1
fi
exit "$status"
