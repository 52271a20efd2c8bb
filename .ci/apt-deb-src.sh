#!/usr/bin/env bash
# Makes Debian source packages of one suite available to `apt-get source` (for the patched
# QEMU build, tests/guest/build-qemu-x86.sh): adds a deb-src entry for SUITE that uses the
# same archive URI as the machine's own binary entry for it (or for the release it belongs
# to), so no host name is written here. Needs root; does nothing if the entry exists.
#
#   apt-deb-src.sh [SUITE]     (default bookworm-backports)
set -euo pipefail

suite="${1:-bookworm-backports}"
list=/etc/apt/sources.list.d/drivervm-deb-src.sources

has_src() {
  apt-get indextargets --format '$(CODENAME)' 'Created-By: Sources' 2>/dev/null |
    grep -qx -- "$suite"
}

has_src && exit 0
uri="$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' "Codename: $suite" |
  head -1)"
if [ -z "$uri" ]; then
  # The suite itself is not configured: use the archive that serves its base release.
  uri="$(apt-get indextargets --format '$(REPO_URI)' 'Created-By: Packages' \
    "Codename: ${suite%%-*}" | head -1)"
fi
[ -n "$uri" ] || { echo "no apt entry for $suite or ${suite%%-*} to derive deb-src from" >&2; exit 1; }
printf '%s\n' 'Types: deb-src' "URIs: $uri" "Suites: $suite" 'Components: main' \
  'Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg' > "$list"
apt-get update -qq
has_src || { echo "deb-src for $suite still missing after apt-get update" >&2; exit 1; }
