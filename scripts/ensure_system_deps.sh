#!/usr/bin/env bash
# Installs what twinboard needs from Debian when missing (idempotent).
#   ensure_system_deps.sh run   the demo: the mosquitto MQTT broker (the park brain's demo broker) and
#                               redis-server (`twinboard up` starts one on loopback)
#   ensure_system_deps.sh       the test suite: those, plus Chromium and its driver and the PostgreSQL server
# Servers are started privately on loopback by the demo and the tests; system services are not used.
set -euo pipefail
need=()
[ -x /usr/sbin/mosquitto ] || command -v mosquitto >/dev/null 2>&1 || need+=(mosquitto)
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
if [ "${1:-test}" != "run" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
  command -v chromedriver >/dev/null 2>&1 || need+=(chromium-driver)
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
fi
if [ ${#need[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
echo "installing system packages: ${need[*]}"
$SUDO apt-get update -q
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${need[@]}"
