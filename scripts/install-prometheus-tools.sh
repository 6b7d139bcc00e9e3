#!/usr/bin/env bash
# promtool and amtool, for the test suite (`promtool test rules`, `amtool check-config`): from PATH if they are
# there, else taken out of Debian's `prometheus` and `prometheus-alertmanager` packages into .tools/bin without
# installing them (no service, no user, no systemd unit). CI runs this; the tests that need a tool skip,
# saying why, where it is absent. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p .tools/bin
for pair in promtool:prometheus amtool:prometheus-alertmanager; do
  tool=${pair%%:*} package=${pair#*:}
  if command -v "$tool" >/dev/null 2>&1 || [[ -x .tools/bin/$tool ]]; then
    continue
  fi
  command -v apt-get >/dev/null 2>&1 || { echo "install-prometheus-tools: no apt-get here; install $tool" >&2; exit 1; }
  work=$(mktemp -d "${TMPDIR:-/tmp}/$tool.XXXXXX")
  echo "install-prometheus-tools: extracting $tool from Debian's $package package into .tools/bin" >&2
  (cd "$work" && apt-get download "$package" >/dev/null 2>&1) || {
    apt-get update -qq && (cd "$work" && apt-get download "$package" >/dev/null)
  }
  dpkg-deb -x "$work/${package}"_*.deb "$work/root"
  cp "$work/root/usr/bin/$tool" ".tools/bin/$tool"
  rm -rf "$work"
  ".tools/bin/$tool" --version 2>&1 | head -1 >&2
done
