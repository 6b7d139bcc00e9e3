#!/usr/bin/env bash
# Lint the GitHub Actions workflows offline, with the linters the dev lock installs into .venv:
#   actionlint (syntax, expressions, action inputs, runner labels; shellcheck on every `run:` block)
#   zizmor --offline --persona pedantic (every audit that needs no network, code smells included)
# Any finding fails. A finding is accepted only in a config file, with its reason written next to it:
# .github/actionlint.yaml and .github/zizmor.yml.
#
# shellcheck: used when installed (Debian's `shellcheck`; .ci/run installs it). Without it, actionlint's
# shellcheck integration is off, said so on stderr; under CI (CI=true) a missing shellcheck is an error.
set -euo pipefail
cd "$(dirname "$0")/.."

bin=.venv/bin
for tool in actionlint zizmor; do
  if [[ ! -x "$bin/$tool" ]]; then
    echo "error: $bin/$tool is missing: run ./scripts/setup.sh (the dev lock installs it)" >&2
    exit 2
  fi
done

shellcheck_flag=()
if command -v shellcheck >/dev/null 2>&1; then
  shellcheck_flag=(-shellcheck "$(command -v shellcheck)")
elif [[ "${CI:-}" == "true" ]]; then
  echo "error: shellcheck is not installed (CI runs actionlint with it: apt-get install shellcheck)" >&2
  exit 2
else
  echo "note: shellcheck is not installed: actionlint checks the run: blocks without it" >&2
  shellcheck_flag=(-shellcheck=)
fi

status=0
# -pyflakes= : no step uses `shell: python`, and the result must not depend on what happens to be on PATH.
"$bin/actionlint" -no-color -pyflakes= "${shellcheck_flag[@]}" || status=1
"$bin/zizmor" --offline --persona pedantic --no-progress --color=never --config .github/zizmor.yml .github/workflows || status=1
exit "$status"
