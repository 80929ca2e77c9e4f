#!/usr/bin/env bash
# Runs the Python reference client (examples/python) against a real
# sori-server: a venv with the pinned requirements, a debug build of the
# server, the protobuf code generated from proto/sori.proto, then pytest.
#
# Needs python3 and PyPI (for the first run only: the venv is reused).
# Exit code: pytest's; "no tests collected" (pytest's 5) counts as a failure.
# Usage: [SORI_SERVER=path/to/sori-server] scripts/python-client.sh [extra pytest arguments]
set -euo pipefail

cd "$(dirname "$0")/.."
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
venv=$target_dir/python-venv
requirements=examples/python/requirements.txt
pytest_pin=pytest==8.3.5

# The venv, reinstalled only when the pins change.
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
stamp=$venv/.sori-requirements
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(cat "$requirements"; echo "$pytest_pin")" ]; }; then
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements" "$pytest_pin"
    { cat "$requirements"; echo "$pytest_pin"; } >"$stamp"
fi

# The server under test: the debug build, reused when nothing changed; or,
# when SORI_SERVER names a binary, that one (and nothing is built).
if [ -z "${SORI_SERVER:-}" ]; then
    cargo build --quiet --locked -p sori-server
    SORI_SERVER=$target_dir/debug/sori-server
fi
SORI_SERVER=$(realpath "$SORI_SERVER")
export SORI_SERVER

# The body types, generated into examples/python/build (git-ignored).
build=examples/python/build
mkdir -p "$build"
"$venv/bin/python" -m grpc_tools.protoc -Iproto --python_out="$build" proto/sori.proto

cd examples/python
set +e
"$venv/bin/python" -m pytest -p no:cacheprovider -ra test_client.py "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
    echo "python-client: pytest collected no tests" >&2
    status=1
fi
echo "python-client: pytest exit status $status"
exit "$status"
