#!/usr/bin/env bash
# Installs the programs the deploy tests run for real, when they are missing:
# nginx (e2e/TestNginxInFront runs deploy/nginx.conf in front of real
# instances) and promtool (deploy/TestPromtool runs the alert rules' unit
# tests), both from Debian's packages (promtool is in "prometheus"). Helm
# needs no program: deploy/kubetest renders the chart with Helm's Go
# packages. Without root or apt-get it says what is missing, and those tests
# skip with that reason. node and npm (Debian's nodejs and npm) run the
# grammY bot of e2e/TestGrammyBotBehindThreeInstances, whose packages that
# test installs with `npm ci` (e2e/testdata/grammybot/package-lock.json).
#
#   scripts/test-tools.sh
set -euo pipefail

need=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || need+=(nginx)
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
command -v node >/dev/null 2>&1 || need+=(nodejs)
command -v npm >/dev/null 2>&1 || need+=(npm)
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: installing ${need[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  # RUNLEVEL=1: the packages' services are not started by their install.
  apt-get update -qq
  RUNLEVEL=1 apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "test-tools: ${need[*]} missing and cannot be installed here (needs root and apt-get);" \
    "the tests that use them skip (Debian/Ubuntu: sudo apt-get install -y ${need[*]})" >&2
fi
