#!/usr/bin/env bash
# Builds build/out/libnginx-mod-http-backend-jwt_<version>_amd64.deb for the system's nginx
# (Debian's), laid out as Debian's own libnginx-mod-* packages:
#   /usr/lib/nginx/modules/ngx_http_backend_jwt_module.so and libbackendjwt.so (the core)
#   /usr/share/nginx/modules-available/mod-http-backend-jwt.conf (the load_module line)
#   the 50-mod-http-backend-jwt.conf link in /etc/nginx/modules-enabled/, made on install and
#   moved aside on remove by the maintainer scripts of dh_nginx (nginx-dev's autoscripts), which
#   also fire the nginx-reload trigger (a running nginx reloads)
#   Depends: nginx-abi-<the ABI of the nginx it was built for>, so apt refuses another nginx.
# Environment: BJWT_VERSION (default 0.1.0), NGINX_ABI (default: what the installed nginx provides),
# DEB_MAINTAINER.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=${BJWT_VERSION:-0.1.0}
pkg=libnginx-mod-http-backend-jwt
name=mod-http-backend-jwt
arch=$(dpkg --print-architecture)

unset NGINX_SRC BJWT_OUT BJWT_SANITIZE BJWT_NGINX_BINARY
build/module.sh
out=$root/build/out
abi=${NGINX_ABI:-$(dpkg-query -W -f='${Provides}' nginx | grep -o 'nginx-abi-[^ ,]*' | head -1)}
[ -n "$abi" ] || { echo "the installed nginx provides no nginx-abi-*; set NGINX_ABI" >&2; exit 1; }
autoscripts=/usr/share/debhelper/autoscripts  # dh_nginx's, from nginx-dev
for s in postinst prerm postrm; do
    [ -f "$autoscripts/$s-nginx" ] || { echo "$autoscripts/$s-nginx missing (nginx-dev)" >&2; exit 1; }
done

tree=$root/build/deb
rm -rf "$tree"
modules=$tree/usr/lib/nginx/modules
mkdir -p "$modules" "$tree/usr/share/nginx/modules-available" "$tree/usr/share/doc/$pkg" "$tree/DEBIAN"
install -m 0644 "$out/ngx_http_backend_jwt_module.so" "$out/libbackendjwt.so" "$modules/"
strip --strip-unneeded "$modules"/*.so
echo "load_module modules/ngx_http_backend_jwt_module.so;" >"$tree/usr/share/nginx/modules-available/$name.conf"
install -m 0644 README.md "$tree/usr/share/doc/$pkg/README.md"
install -m 0644 -D -t "$tree/usr/share/doc/$pkg/docs" docs/*.md   # the README links there

# the maintainer scripts exactly as dh_nginx writes them (NAMES: available:enabled)
for s in postinst prerm postrm; do
    {
        printf '#!/bin/sh\nset -e\n# Automatically added by dh_nginx\n'
        sed "s/#NAMES#/$name.conf:50-$name.conf/" "$autoscripts/$s-nginx"
        printf '# End automatically added section\n'
    } >"$tree/DEBIAN/$s"
    chmod 0755 "$tree/DEBIAN/$s"
done

# shared library dependencies, as dpkg-shlibdeps finds them (libc6, libssl3, libstdc++6, ...)
shl=$(mktemp -d)
mkdir "$shl/debian"
printf 'Source: %s\n\nPackage: %s\nArchitecture: any\n' "$pkg" "$pkg" >"$shl/debian/control"
shlibs=$(cd "$shl" && dpkg-shlibdeps -O -l"$modules" "$modules"/*.so 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
rm -rf "$shl"
[ -n "$shlibs" ] || { echo "dpkg-shlibdeps found no dependency" >&2; exit 1; }

cat >"$tree/DEBIAN/control" <<CONTROL
Package: $pkg
Version: $version
Architecture: $arch
Maintainer: ${DEB_MAINTAINER:-nginx-backend-jwt maintainers <nginx-backend-jwt@localhost>}
Installed-Size: $(du -sk --exclude=DEBIAN "$tree" | cut -f1)
Depends: $abi, $shlibs
Recommends: nginx
Section: httpd
Priority: optional
Description: backend JWT module for nginx
 Mints a short-lived signed JWT (RS/PS/ES/HS/EdDSA) for every request in the
 locations where it is on, from nginx variables, and forwards it upstream in a
 header (X-JWT-Assertion by default). Built for nginx with $abi.
CONTROL
(cd "$tree" && find usr -type f -exec md5sum {} + | sort -k2) >"$tree/DEBIAN/md5sums"

deb=$out/${pkg}_${version}_${arch}.deb
dpkg-deb --root-owner-group -Zxz --build "$tree" "$deb" >/dev/null
rm -rf "$tree"
echo "== built $deb"
dpkg-deb -f "$deb" Package Version Depends
