#!/usr/bin/env bash
# Installs a Debian package when its command is missing:
#   scripts/ensure-apt.sh COMMAND PACKAGE
# Used by the ensure-*.sh scripts that CI (.ci/run) runs before the tests.
set -euo pipefail
command="$1"
package="$2"
if command -v "$command" >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-apt: $command is missing and apt-get is not available; install $package by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "$package" >/dev/null
