#!/usr/bin/env bash
# Create .venv from the hash-pinned lock files (runtime + dev) and install the project into it.
# Idempotent; needs only python3 >= 3.11 and the package registry.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required")'
if ! command -v uv >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==0.13.9"
fi
export UV_NO_PROGRESS=1 UV_PYTHON_DOWNLOADS=never
uv venv --quiet --allow-existing --python "$(command -v python3)" .venv
# Bytecode is compiled at install time: the SDKs are large and some environments never write .pyc files.
uv pip sync --quiet --compile-bytecode --python .venv/bin/python requirements-dev.txt
uv pip install --quiet --no-deps --no-build-isolation --python .venv/bin/python -e .
