#!/usr/bin/env bash
# Installs the system packages the test suite and benchmarks use, where they are missing:
# chromium (the offline /docs test) and wrk (HTTP load for bench/). Needs root and apt-get.
set -euo pipefail
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages: ${missing[*]} (install them with your package manager)" >&2
  exit 1
fi
echo "installing ${missing[*]} from Debian's packages" >&2
apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
