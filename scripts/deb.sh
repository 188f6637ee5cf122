#!/bin/sh
# make deb: a Debian package built from the same tree `make install` writes, with dpkg-deb
# alone (no network, no debhelper). The command goes in /usr/bin; the library, a preload module
# that nothing links against, in a private directory, /usr/lib/<multiarch>/libkeepalive/, where
# the command looks for it. Debian's libkeepalive0 (another project's library) installs
# /usr/lib/libkeepalive.so: no file is shared, so both can be installed. lintian finds no error.
set -eu
cd "$(dirname "$0")/.."

package=libkeepalive
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
architecture=$(dpkg --print-architecture)
multiarch=$(${CC:-cc} -print-multiarch)
work=target/deb
root=$work/root

rm -rf "$work"
maintainer="libkeepalive developers <libkeepalive@users.noreply.github.com>"
library=usr/lib/$multiarch/libkeepalive/libkeepalive.so
# The date of the last commit, so that the same tree gives the same package.
epoch=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}

umask 022
make --no-print-directory install DESTDIR="$root" PREFIX=/usr LIBDIR="/usr/lib/$multiarch/libkeepalive" >&2
strip --strip-unneeded --remove-section=.comment "$root/usr/bin/keepalive" "$root/$library"
gzip -9n "$root/usr/share/man/man1/keepalive.1" "$root/usr/share/man/man7/libkeepalive.7"

doc=$root/usr/share/doc/$package
install -d "$doc"
# A native package (no Debian revision): its changelog is changelog.gz.
cat > "$work/changelog" <<CHANGELOG
$package ($version) unstable; urgency=medium

  * Built by make deb from the libkeepalive source tree.

 -- $maintainer  $(date -u -R -d "@$epoch")
CHANGELOG
gzip -9n < "$work/changelog" > "$doc/changelog.gz"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: libkeepalive
Upstream-Contact: $maintainer

Files: *
Copyright: 2026 the libkeepalive developers
License: MIT or Apache-2.0

License: MIT
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of this software and associated documentation files (the "Software"), to deal
 in the Software without restriction, including without limitation the rights
 to use, copy, modify, merge, publish, distribute, sublicense, and/or sell
 copies of the Software, and to permit persons to whom the Software is
 furnished to do so, subject to the following conditions:
 .
 The above copyright notice and this permission notice shall be included in
 all copies or substantial portions of the Software.
 .
 THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT. IN NO EVENT SHALL THE
 AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM, DAMAGES OR OTHER
 LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN
 THE SOFTWARE.

License: Apache-2.0
 On Debian systems, the complete text of the Apache License, Version 2.0,
 is in /usr/share/common-licenses/Apache-2.0.
COPYRIGHT

# The command is a static PIE: an ELF shared object without DT_NEEDED, which lintian takes for a
# shared library lacking its dependencies.
install -d "$root/usr/share/lintian/overrides"
cat > "$root/usr/share/lintian/overrides/$package" <<OVERRIDES
# usr/bin/keepalive is a statically linked position-independent executable, not a library.
$package: shared-library-lacks-prerequisites [usr/bin/keepalive]
OVERRIDES

# The newest glibc symbol version the library needs is the package's minimum libc6 (the
# command is statically linked and needs none).
glibc=$(objdump -T "$root/$library" |
    sed -n 's/.*GLIBC_\([0-9][0-9.]*\).*/\1/p' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1)
size=$(du -sk "$root/usr" | cut -f1)
(cd "$root" && find usr -type f -print0 | sort -z | xargs -0 md5sum) > "$work/md5sums"

install -d "$root/DEBIAN"
install -m 0644 "$work/md5sums" "$root/DEBIAN/md5sums"
cat > "$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $architecture
Maintainer: $maintainer
Installed-Size: $size
Depends: libc6 (>= $glibc)
Section: net
Priority: optional
Description: TCP keepalive for programs that never ask for it
 A preloaded library that turns on TCP keepalive, with the timers you choose,
 for every connection an unmodified program makes or accepts, and the
 keepalive command that runs programs under it and shows whether a running
 process's connections have keepalive.
CONTROL

package_file=target/${package}_${version}_${architecture}.deb
SOURCE_DATE_EPOCH=$epoch dpkg-deb --root-owner-group --build "$root" "$package_file" >/dev/null
echo "$package_file"
