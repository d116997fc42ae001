#!/usr/bin/env bash
# Makes sure a headless browser is there for the reports page test: Debian's `chromium`
# at /usr/bin/chromium (or GRIDLOOP_CHROMIUM). As root it installs the package with apt-get
# when missing; as a normal user it says what to install and fails.
set -euo pipefail

bin="${GRIDLOOP_CHROMIUM:-/usr/bin/chromium}"
if [ -x "$bin" ]; then
    echo "browser: $bin ($("$bin" --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    echo "browser: $bin is missing; the reports page test needs it." >&2
    echo "  install it as root:  apt-get install -y --no-install-recommends chromium fonts-noto-cjk" >&2
    echo "  or point GRIDLOOP_CHROMIUM at another Chromium binary." >&2
    exit 1
fi

echo "browser: installing Debian's chromium (and CJK fonts for the screenshot)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-noto-cjk >/dev/null
"$bin" --version
