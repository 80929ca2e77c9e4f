#!/usr/bin/env bash
# Installs tmux when it is missing: crates/sori-chat/tests/tmux.rs drives the
# terminal client in tmux (the test passes with a printed note without it).
set -euo pipefail
if command -v tmux >/dev/null 2>&1; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure-tmux: tmux is missing and apt-get is not available; install tmux by hand" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends tmux >/dev/null
tmux -V
