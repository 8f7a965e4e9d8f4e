#!/usr/bin/env bash
# The browser test drives Debian's Chromium through Playwright (Playwright's own browser download
# needs the network). Install it when missing and we may; otherwise the test skips and says why.
set -u
if command -v chromium >/dev/null 2>&1; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian chromium for the browser test..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
else
  echo "chromium not found and cannot install it (not root or no apt-get): the browser test will skip"
fi
