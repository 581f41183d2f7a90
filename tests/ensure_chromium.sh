#!/bin/sh
# Make Debian's chromium available for tests/test_site_browser.py (idempotent).
# Installs only when /usr/bin/chromium is missing and we are root; otherwise does nothing, and the
# browser test skips with a clear reason if no browser could be installed.
set -u
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" != "0" ]; then
    echo "ensure_chromium: /usr/bin/chromium missing and not root; the browser test will be skipped." >&2
    exit 0
fi
echo "ensure_chromium: installing Debian's chromium for the leaderboard browser test" >&2
if ! (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null); then
    echo "ensure_chromium: could not install chromium; the browser test will be skipped." >&2
fi
exit 0
