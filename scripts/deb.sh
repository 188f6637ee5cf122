#!/bin/sh
# make deb: a Debian package built from the same tree `make install` writes, with dpkg-deb
# alone (no network, no debhelper). Files go where Debian expects them: the command in
# /usr/bin, the library in /usr/lib/<multiarch>/, compressed man pages, a copyright file.
set -eu
cd "$(dirname "$0")/.."

package=libkeepalive
version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n 1)
architecture=$(dpkg --print-architecture)
multiarch=$(${CC:-cc} -print-multiarch)
work=target/deb
root=$work/root

rm -rf "$work"
make --no-print-directory install CARGO=true DESTDIR="$root" PREFIX=/usr LIBDIR="/usr/lib/$multiarch" >&2
strip --strip-unneeded --remove-section=.comment "$root/usr/bin/keepalive" "$root/usr/lib/$multiarch/libkeepalive.so"
gzip -9n "$root/usr/share/man/man1/keepalive.1" "$root/usr/share/man/man7/libkeepalive.7"

doc=$root/usr/share/doc/$package
install -d "$doc"
cat > "$doc/copyright" <<COPYRIGHT
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: libkeepalive

Files: *
Copyright: the libkeepalive developers
License: MIT or Apache-2.0
COPYRIGHT

# The newest glibc symbol version either binary needs is the package's minimum libc6.
glibc=$(objdump -T "$root/usr/bin/keepalive" "$root/usr/lib/$multiarch/libkeepalive.so" |
    sed -n 's/.*GLIBC_\([0-9][0-9.]*\).*/\1/p' | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1)
size=$(du -sk "$root/usr" | cut -f1)

install -d "$root/DEBIAN"
cat > "$root/DEBIAN/control" <<CONTROL
Package: $package
Version: $version
Architecture: $architecture
Maintainer: libkeepalive developers <libkeepalive@users.noreply.invalid>
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
dpkg-deb --root-owner-group --build "$root" "$package_file" >/dev/null
echo "$package_file"
