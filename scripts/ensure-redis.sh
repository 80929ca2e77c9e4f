#!/usr/bin/env bash
# Installs redis-server when it is missing: the cluster tests
# (crates/sori-server/tests/cluster) start their own redis-server on a free
# port, so they can stop and restart it. They also need PostgreSQL (this
# project's machines run it on 127.0.0.1:5432); under CI=true a test that
# finds either missing fails rather than skips.
set -euo pipefail
if ! command -v redis-server >/dev/null 2>&1; then
    if ! command -v apt-get >/dev/null 2>&1; then
        echo "ensure-redis: redis-server is missing and apt-get is not available; install it by hand" >&2
        exit 1
    fi
    sudo=""
    if [ "$(id -u)" -ne 0 ]; then
        sudo="sudo"
    fi
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    $sudo apt-get install -y -qq --no-install-recommends redis-server >/dev/null
fi
redis-server --version
