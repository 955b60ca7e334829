#!/usr/bin/env bash
# Makes sure Debian's chromium is installed for the e2e tests (headless, driven by playwright-core).
# Idempotent and quiet when chromium is already there. Uses apt-get only: no tool may download its
# own browser here. fonts-liberation (a "Recommends" of chromium) keeps screenshots legible.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [[ -x "$CHROMIUM" ]]; then
  exit 0
fi

fail() {
  echo "ensure-chromium: $*" >&2
  exit 1
}

command -v apt-get >/dev/null 2>&1 || fail "$CHROMIUM is missing and apt-get is not available; install Debian's chromium package by hand."

SUDO=()
if [[ "$(id -u)" -ne 0 ]]; then
  command -v sudo >/dev/null 2>&1 || fail "$CHROMIUM is missing; run as root (or install sudo) so apt-get can install chromium."
  SUDO=(sudo)
fi

log=$(mktemp)
trap 'rm -f "$log"' EXIT

if ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >"$log" 2>&1 ||
  ! "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-liberation fonts-noto-color-emoji >>"$log" 2>&1; then
  cat "$log" >&2
  fail "apt-get could not install chromium (see the output above)."
fi

[[ -x "$CHROMIUM" ]] || fail "apt-get finished but $CHROMIUM is still missing."
