#!/usr/bin/env bash
# promtool, for `promtool test rules` in the test suite: from PATH if it is there, else taken out of Debian's
# `prometheus` package into .tools/ without installing the package (no service, no user, no systemd unit).
# CI runs this; tests/test_alert_rules.py skips, saying why, where promtool is absent. Idempotent.
set -euo pipefail
cd "$(dirname "$0")/.."
if command -v promtool >/dev/null 2>&1 || [[ -x .tools/bin/promtool ]]; then
  exit 0
fi
command -v apt-get >/dev/null 2>&1 || { echo "install-promtool: no apt-get here; install Prometheus's promtool" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/promtool.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "install-promtool: extracting promtool from Debian's prometheus package into .tools/bin" >&2
(cd "$work" && apt-get download prometheus >/dev/null 2>&1) || {
  apt-get update -qq && (cd "$work" && apt-get download prometheus >/dev/null)
}
dpkg-deb -x "$work"/prometheus_*.deb "$work/root"
mkdir -p .tools/bin
cp "$work/root/usr/bin/promtool" .tools/bin/promtool
.tools/bin/promtool --version 2>&1 | head -1 >&2
