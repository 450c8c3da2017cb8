#!/usr/bin/env bash
# Runs a command with a headless Chromium available for the browser tests
# (internal/testutil/browsertest), installing Debian's chromium first when
# it is missing. It exports DISPATCHER_REQUIRE_CHROMIUM=1, so that a browser
# test fails rather than skips when it finds no browser.
#
#   scripts/with-chromium.sh go test ./e2e -run TestOpsPageInChromium
set -euo pipefail

have() {
  [ -n "${DISPATCHER_CHROMIUM:-}" ] && [ -x "$DISPATCHER_CHROMIUM" ] && return 0
  command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
    command -v google-chrome >/dev/null 2>&1 || command -v google-chrome-stable >/dev/null 2>&1
}

if ! have; then
  if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
    echo "with-chromium: chromium is missing; installing it (apt-get)" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq chromium >/dev/null
  else
    echo "with-chromium: chromium is missing. Install it (Debian/Ubuntu: sudo apt-get install -y chromium; macOS: brew install --cask chromium) or set DISPATCHER_CHROMIUM to a Chrome or Chromium binary, and run again." >&2
    exit 1
  fi
fi
export DISPATCHER_REQUIRE_CHROMIUM=1
"$@"
