#!/usr/bin/env bash
# Create .venv from the hash-pinned lock files (runtime + dev) and install the project into it.
# Idempotent; needs only python3 >= 3.11 (with its venv module) and the package registry.
#
#   ./scripts/setup.sh                  the project
#   ./scripts/setup.sh --with-checkov   also checkov, in .venv-checkov from requirements-checkov.txt: it has ~100
#                                       dependencies of its own, which must not constrain the project's. CI
#                                       installs it; tests/test_checkov.py skips, saying why, where it is absent.
#
# The installer (uv, pinned) comes from PATH if it is there. Otherwise it is installed into a throw-away
# virtualenv, never into the system Python: Debian 12 and Ubuntu 24.04 refuse `pip install` there (PEP 668,
# "externally-managed-environment"), and nothing here should change the machine outside this checkout.
set -euo pipefail
cd "$(dirname "$0")/.."

UV_VERSION=0.13.9
say() { echo "setup: $*" >&2; }

python3 -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "python3 >= 3.11 is required")'
if command -v uv >/dev/null 2>&1; then
  uv=$(command -v uv)
  say "using $uv ($("$uv" --version))"
else
  installer=$(mktemp -d "${TMPDIR:-/tmp}/philosophy-setup.XXXXXX")
  trap 'rm -rf "$installer"' EXIT
  say "installing uv $UV_VERSION into a throw-away virtualenv ($installer)"
  if ! python3 -m venv "$installer" >/dev/null 2>&1; then
    say "python3 cannot create a virtualenv: install its venv module (Debian, Ubuntu: apt-get install python3-venv)"
    exit 1
  fi
  "$installer/bin/python" -m pip install --quiet --disable-pip-version-check "uv==$UV_VERSION"
  uv="$installer/bin/uv"
fi
export UV_NO_PROGRESS=1 UV_PYTHON_DOWNLOADS=never
say "creating .venv with $(python3 --version)"
"$uv" venv --quiet --allow-existing --python "$(command -v python3)" .venv
# Bytecode is compiled at install time: the SDKs are large and some environments never write .pyc files.
say "installing the locked dependencies (requirements-dev.txt, hashes checked)"
"$uv" pip sync --quiet --compile-bytecode --python .venv/bin/python requirements-dev.txt
say "installing philosophy-infra itself (editable)"
"$uv" pip install --quiet --no-deps --no-build-isolation --python .venv/bin/python -e .
if [[ "${1:-}" == "--with-checkov" ]]; then
  say "installing checkov into .venv-checkov (requirements-checkov.txt, hashes checked)"
  "$uv" venv --quiet --allow-existing --python "$(command -v python3)" .venv-checkov
  "$uv" pip sync --quiet --python .venv-checkov/bin/python requirements-checkov.txt
fi
say "done: .venv/bin/philosophy-infra, .venv/bin/pytest"
