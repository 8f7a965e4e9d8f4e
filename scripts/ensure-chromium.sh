#!/usr/bin/env bash
# The browser test drives Debian's Chromium through Playwright (Playwright's own browser download
# needs the network). Install it when missing and we may; otherwise the test skips and says why.
# The Chinese shop's screenshot needs a font with Chinese glyphs (WenQuanYi Micro Hei, 1.6 MB);
# without one the page still works, but its text shows as empty boxes.
set -u
packages=()
command -v chromium >/dev/null 2>&1 || packages+=(chromium)
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null)" ]; then
  packages+=(fonts-wqy-microhei)
fi
if [ "${#packages[@]}" = "0" ]; then exit 0; fi
if [ "$(id -u)" = "0" ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing Debian ${packages[*]} for the browser tests..."
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
else
  echo "${packages[*]} not found and cannot install (not root or no apt-get): the browser tests skip or show boxes"
fi
