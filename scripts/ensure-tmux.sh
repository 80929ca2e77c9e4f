#!/usr/bin/env bash
# Installs tmux when it is missing: crates/sori-chat/tests/tmux.rs drives the
# terminal client in tmux (the test passes with a printed note without it).
set -euo pipefail
bash "$(dirname "$0")/ensure-apt.sh" tmux tmux
tmux -V
