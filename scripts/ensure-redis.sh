#!/usr/bin/env bash
# Installs redis-server when it is missing: the cluster tests
# (crates/sori-server/tests/cluster) start their own redis-server on a free
# port, so they can stop and restart it. They also need PostgreSQL (this
# project's machines run it on 127.0.0.1:5432); under CI=true a test that
# finds either missing fails rather than skips.
set -euo pipefail
bash "$(dirname "$0")/ensure-apt.sh" redis-server redis-server
redis-server --version
