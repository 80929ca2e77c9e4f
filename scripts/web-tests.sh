#!/usr/bin/env bash
# The browser client's tests (web-tests/): the schema check and codec tests,
# then end to end in headless Chromium against the real sori-server, which
# serves the page (web/) itself. Screenshots go to target/web-screenshots/.
#
# Installs what it needs: Debian's chromium when it is missing (apt-get), the
# npm packages pinned by web-tests/package-lock.json (npm ci), and builds the
# server (cargo build -p sori-server). SORI_SERVER=path tests another binary
# (then nothing is built). Exits non-zero on any failure and ends with
# "web: N passed, N failed".
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v chromium >/dev/null 2>&1; then
    echo "== installing chromium (Debian package)"
    if [ "$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "web tests need Node.js 20 or later (node)"; exit 1; }
chromium --version 2>/dev/null || true
node --version

echo "== npm ci (web-tests)"
(cd web-tests && npm ci --no-audit --no-fund --loglevel=error)

if [ -z "${SORI_SERVER:-}" ]; then
    echo "== cargo build -p sori-server"
    cargo build -p sori-server
fi

echo "== web tests (node --test)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
status=0
(cd web-tests && node --test --test-concurrency=1 --test-timeout=180000 --test-reporter=spec test/) 2>&1 | tee "$log" || status=$?

# node's spec reporter ends with "ℹ pass N" and "ℹ fail N" lines.
passed="$(sed -n 's/^ℹ pass \([0-9]*\)$/\1/p' "$log" | tail -n 1)"
failed="$(sed -n 's/^ℹ fail \([0-9]*\)$/\1/p' "$log" | tail -n 1)"
passed="${passed:-0}"
failed="${failed:-0}"
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
if [ "$passed" -eq 0 ] && [ "$failed" -eq 0 ]; then
    echo "no web test ran"
    failed=1
fi
echo "screenshots: target/web-screenshots/"
echo "web: ${passed} passed, ${failed} failed"
[ "$failed" -eq 0 ]
