#!/usr/bin/env bash
# Makes sure a headless Chromium and a CJK font are on this machine: the
# reporting tests load the aftermath report's HTML in headless Chromium, take
# a screenshot and print it (services/reporting/internal/adapters/chromium_test.go).
# The zh-CN report needs a font with Chinese glyphs, or every character is a
# box; the page's CSS asks for "Noto Sans CJK SC", which fonts-noto-cjk provides.
# On Debian the browser comes from `chromium-headless-shell`; install what is missing.
set -euo pipefail

# The same names, in the same order, as chromiumPath in the test.
find_chromium() {
  if [ -n "${KESU_CHROMIUM:-}" ]; then
    command -v "$KESU_CHROMIUM" 2>/dev/null && return 0
    echo "KESU_CHROMIUM=$KESU_CHROMIUM is not an executable" >&2
    return 1
  fi
  local name
  for name in chromium-headless-shell headless_shell headless-shell chromium chromium-browser \
    google-chrome google-chrome-stable chrome; do
    command -v "$name" 2>/dev/null && return 0
  done
  return 0
}

has_cjk_font() {
  command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh-cn family 2>/dev/null)" ]
}

chromium=$(find_chromium) || exit 1
packages=()
[ -n "$chromium" ] || packages+=(chromium-headless-shell)
# fc-list (package fontconfig) is how this script tells a Chinese font is there.
command -v fc-list >/dev/null || packages+=(fontconfig)
has_cjk_font || packages+=(fonts-noto-cjk)
if [ ${#packages[@]} -eq 0 ]; then
  exit 0
fi

echo "installing Debian's ${packages[*]} (headless Chromium for the report's rendering test)" >&2
. "$(dirname "$0")/apt.sh"
apt_install "${packages[@]}"
[ -n "$(find_chromium)" ] || { echo "chromium-headless-shell installed but no Chromium binary found" >&2; exit 1; }
has_cjk_font || { echo "fonts-noto-cjk installed but fontconfig knows no Chinese font" >&2; exit 1; }
