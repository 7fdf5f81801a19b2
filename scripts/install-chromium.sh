#!/usr/bin/env bash
# Debian's Chromium and ChromeDriver for the browser test. Needs root (or sudo); without them the
# browser test is skipped with a message saying so.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
if [ "$(id -u)" -eq 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else
  echo "install-chromium: not root and no sudo; the browser test will be skipped" >&2; exit 0; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
