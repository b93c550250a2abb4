#!/usr/bin/env bash
# Install headless Chromium + chromedriver (Debian packages) for the browser tests.
# Idempotent and quiet: does nothing when /usr/bin/chromium and /usr/bin/chromedriver exist.
set -euo pipefail

if [[ -x /usr/bin/chromium && -x /usr/bin/chromedriver ]]; then
    exit 0
fi

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq >/dev/null
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
/usr/bin/chromium --version
