#!/bin/sh
# Installs scanhost under a prefix without ever deleting or overwriting a
# file the user added or changed (make install runs this).
#
#   PREFIX/bin/scanhost                     the binary (always replaced)
#   PREFIX/lib/scanhost/scanhost-tls.so     its TLS module (always replaced)
#   PREFIX/lib/scanhost/scanhost-http.so    its --http module (always replaced)
#   PREFIX/share/scanhost/scanners, lua-lib, config
#                                           stock files, upgraded in place
#   PREFIX/share/scanhost/.installed        checksums of the stock files as
#                                           installed: a file whose checksum
#                                           differs was changed by the user
#   PREFIX/etc/scanhost/scanhost.lua        the config: installed only if absent
#   PREFIX/etc/scanhost/scanners.d/         the user's own scanners (loaded too)
#
# A stock file the user changed is kept; the new version is written beside
# it as FILE.new, and a line says so. A stock file this version no longer
# ships is removed if the user did not change it (else a retired or renamed
# scanner would go on running beside its successor), and kept with a line
# saying so if they did. Files the user added are never touched.
# usage: tools/install.sh DESTDIR_AND_PREFIX
set -eu
root=${1:?usage: tools/install.sh PREFIX}
cd "$(dirname "$0")/.."
share="$root/share/scanhost"
etc="$root/etc/scanhost"
manifest="$share/.installed"
install -d "$root/bin" "$share" "$etc" "$etc/scanners.d"
install -m 755 bin/scanhost "$root/bin/scanhost"
# OpenSSL's side of the daemon, loaded only for rediss:// (always replaced)
install -d "$root/lib/scanhost"
install -m 644 bin/scanhost-tls.so "$root/lib/scanhost/scanhost-tls.so"
install -m 644 bin/scanhost-http.so "$root/lib/scanhost/scanhost-http.so"

sum() { cksum < "$1" | cut -d' ' -f1-2 | tr ' ' '-'; }
recorded() { # the checksum recorded for path $1 at the last install, or ""
  [ -f "$manifest" ] || return 0
  awk -v p="$1" '$2 == p { print $1 }' "$manifest" | tail -1
}

new_manifest=$(mktemp)
trap 'rm -f "$new_manifest" "$new_manifest.old"' EXIT
kept=0
# One stock file: src (in the checkout) -> rel (under share/).
place() {
  src=$1 rel=$2 dst="$share/$2"
  new=$(sum "$src")
  install -d "$(dirname "$dst")"
  if [ ! -e "$dst" ]; then
    install -m 644 "$src" "$dst"
  else
    cur=$(sum "$dst")
    old=$(recorded "$rel")
    if [ "$cur" != "$new" ]; then
      if [ -n "$old" ] && [ "$cur" = "$old" ]; then
        install -m 644 "$src" "$dst" # untouched since the last install: upgrade
      else
        install -m 644 "$src" "$dst.new"
        echo "kept $dst (changed locally); the new version is $dst.new"
        kept=$((kept + 1))
      fi
    fi
  fi
  echo "$new $rel" >> "$new_manifest" # the stock version last shipped at rel
}

for f in $(find scanners lua-lib config -type f -name '*.lua' | sort); do
  place "$f" "$f"
done

# Stock files of the last install that this version no longer ships.
retire() {
  rel=$1 old=$2 dst="$share/$1"
  [ -e "$dst" ] || return 0
  if [ "$(sum "$dst")" = "$old" ]; then
    rm -f "$dst"
    echo "removed $dst (no longer shipped)"
  else
    echo "kept $dst (changed locally; no longer shipped, and still loaded if it is a scanner)"
    echo "$old $rel" >> "$new_manifest" # still ours to retire once it is unchanged
    kept=$((kept + 1))
  fi
}
if [ -f "$manifest" ]; then
  awk 'NR == FNR { shipped[$2] = 1; next } !($2 in shipped) { print $1, $2 }' \
    "$new_manifest" "$manifest" | sort -u -k2,2 > "$new_manifest.old"
  while read -r old rel; do retire "$rel" "$old"; done < "$new_manifest.old"
fi
mv "$new_manifest" "$manifest"
rm -f "$new_manifest.old"
trap - EXIT

if [ ! -e "$etc/scanhost.lua" ]; then
  install -m 644 config/scanhost.lua "$etc/scanhost.lua"
  echo "installed the config $etc/scanhost.lua"
elif ! cmp -s config/scanhost.lua "$etc/scanhost.lua"; then
  echo "kept the config $etc/scanhost.lua (see config/scanhost.lua for the current defaults)"
fi
echo "scanhost installed under $root ($kept changed file(s) kept); put your own scanners in $etc/scanners.d/"
