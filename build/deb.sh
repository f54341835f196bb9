#!/usr/bin/env bash
# Builds two Debian packages into build/out/, versioned by BJWT_VERSION in include/backend_jwt.h,
# maintained by the first line of MAINTAINERS, each with a copyright file and a changelog:
#
# libnginx-mod-http-backend-jwt_<version>_<arch>.deb, for the system's nginx (Debian's), laid
# out as Debian's own libnginx-mod-* packages:
#   /usr/lib/nginx/modules/ngx_http_backend_jwt_module.so and libbackendjwt.so (the core)
#   /usr/share/nginx/modules-available/mod-http-backend-jwt.conf (the load_module line)
#   the 50-mod-http-backend-jwt.conf link in /etc/nginx/modules-enabled/, made on install and
#   moved aside on remove by the maintainer scripts of dh_nginx (nginx-dev's autoscripts), which
#   also fire the nginx-reload trigger (a running nginx reloads)
#   Depends: nginx-abi-<the ABI of the nginx it was built for>, so apt refuses another nginx.
#
# backend-jwt-migrate_<version>_<arch>.deb: /usr/bin/backend-jwt-migrate (the Swift runtime and
# Foundation linked in; no nginx dependency: it runs wherever the gateway's files are).
#
# Then lintian checks both and this fails on any error or warning. What lintian says and why it
# is overridden (the overrides are installed in backend-jwt-migrate, /usr/share/lintian/overrides/):
#   embedded-library libyaml (an error): Yams, the tool's YAML parser, compiles its own copy of
#     libyaml (its CYaml target) and SwiftPM offers no way to link the system's libyaml-0-2
#     instead (the copy is the one Yams 6.2.2 ships); the tool reads only the
#     gateway files given to it. The fix is a Yams built on the system library.
#   no-manual-page (a warning): the tool's manual is `backend-jwt-migrate --help` and the
#     README's migration section, installed beside it.
# Fixed rather than overridden: no-copyright-file, no-changelog, a maintainer on localhost, an
# extended description line over 80 columns; binary-has-unneeded-section (.comment, stripped).
# Left as lintian's informational tags (I:, not warnings): hardening-no-bindnow and
# hardening-no-fortify-functions (the module and the core are linked by nginx's and SwiftPM's own
# builds), spelling-error-in-binary (strings of ICU and Foundation).
#
# Environment: NGINX_ABI (default: what the installed nginx provides). SKIP_MIGRATE=1 builds only
# the module's package (build/migrate.sh takes minutes on a first build).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
version=$(sed -n 's/^#define BJWT_VERSION *"\([^"]*\)".*/\1/p' include/backend_jwt.h)
maintainer=$(grep -v '^#' MAINTAINERS | grep -m1 .)
[ -n "$version" ] && [ -n "$maintainer" ] || { echo "no BJWT_VERSION in include/backend_jwt.h or no line in MAINTAINERS" >&2; exit 1; }
arch=$(dpkg --print-architecture)
# one date for the changelogs: the last commit's (the same tree gives the same packages)
date=$(date -R -d "@$(git log -1 --format=%ct 2>/dev/null || date +%s)")
out=$root/build/out

# copyright <paragraph> [<licences>]: DEP-5. The project's own files are BSD-2-Clause; the
# paragraph names the binary that also holds statically linked code and its licences, whose
# texts follow (the Swift runtime's always; <licences>: further License paragraphs).
copyright() {
    cat <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: nginx-backend-jwt
Source: the nginx-backend-jwt source tree (LICENSE at its root)

Files: *
Copyright: 2026 $maintainer
License: BSD-2-Clause

$1

License: BSD-2-Clause
$(sed -n '/^Redistribution/,$p' LICENSE | sed 's/^$/./; s/^/ /')

License: Apache-2.0 WITH Swift-exception
 Licensed under the Apache License, Version 2.0, with the Runtime Library
 Exception. On Debian systems the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0. The exception:
 .
 As an exception, if you use this Software to compile your source code and
 portions of this Software are embedded into the binary product as a result,
 you may redistribute such product without providing attribution as would
 otherwise be required by Sections 4(a), 4(b) and 4(d) of the License.
${2:-}
EOF
}

# changelog <package>: a native package's changelog.gz (its one entry: this version)
changelog() {
    mkdir -p "$1/usr/share/doc/$2"
    printf '%s (%s) unstable; urgency=medium\n\n  * Release %s.\n\n -- %s  %s\n' \
        "$2" "$version" "$version" "$maintainer" "$date" | gzip -9n >"$1/usr/share/doc/$2/changelog.gz"
}

# depends <tree> <files...>: shared library dependencies, as dpkg-shlibdeps finds them
depends() {
    local tree=$1 shl deps
    shift
    shl=$(mktemp -d)
    mkdir "$shl/debian"
    printf 'Source: x\n\nPackage: x\nArchitecture: any\n' >"$shl/debian/control"
    deps=$(cd "$shl" && dpkg-shlibdeps -O "$@" 2>/dev/null | sed -n 's/^shlibs:Depends=//p')
    rm -rf "$shl"
    [ -n "$deps" ] || { echo "dpkg-shlibdeps found no dependency" >&2; exit 1; }
    echo "$deps"
}

# control <tree> <package>: the fields every package has (the rest follows on stdin)
control() {
    {
        printf 'Package: %s\nVersion: %s\nArchitecture: %s\nMaintainer: %s\n' "$2" "$version" "$arch" "$maintainer"
        printf 'Installed-Size: %s\nSection: httpd\nPriority: optional\n' "$(du -sk --exclude=DEBIAN "$1" | cut -f1)"
        cat
    } >"$1/DEBIAN/control"
}

# finish <tree> <package>: md5sums, the .deb, and its path on stdout
finish() {
    (cd "$1" && find usr -type f -exec md5sum {} + | sort -k2) >"$1/DEBIAN/md5sums"
    local deb=$out/${2}_${version}_${arch}.deb
    rm -f "$out/${2}"_*.deb
    dpkg-deb --root-owner-group -Zxz --build "$1" "$deb" >/dev/null
    rm -rf "$1"
    echo "$deb"
}

# ---------------------------------------------------------------- the module
pkg=libnginx-mod-http-backend-jwt
name=mod-http-backend-jwt
unset NGINX_SRC BJWT_OUT BJWT_SANITIZE BJWT_NGINX_BINARY
build/module.sh
abi=${NGINX_ABI:-$(dpkg-query -W -f='${Provides}' nginx | grep -o 'nginx-abi-[^ ,]*' | head -1)}
[ -n "$abi" ] || { echo "the installed nginx provides no nginx-abi-*; set NGINX_ABI" >&2; exit 1; }
autoscripts=/usr/share/debhelper/autoscripts  # dh_nginx's, from nginx-dev
for s in postinst prerm postrm; do
    [ -f "$autoscripts/$s-nginx" ] || { echo "$autoscripts/$s-nginx missing (nginx-dev)" >&2; exit 1; }
done

tree=$root/build/deb
rm -rf "$tree"
modules=$tree/usr/lib/nginx/modules
doc=$tree/usr/share/doc/$pkg
mkdir -p "$modules" "$tree/usr/share/nginx/modules-available" "$doc" "$tree/DEBIAN"
install -m 0644 "$out/ngx_http_backend_jwt_module.so" "$out/libbackendjwt.so" "$modules/"
strip --strip-unneeded --remove-section=.comment "$modules"/*.so
echo "load_module modules/ngx_http_backend_jwt_module.so;" >"$tree/usr/share/nginx/modules-available/$name.conf"
install -m 0644 README.md "$doc/README.md"
install -m 0644 -D -t "$doc/docs" docs/*.md   # the README links there
copyright "Files: usr/lib/nginx/modules/libbackendjwt.so
Copyright: 2026 $maintainer
 2014-2025 Apple Inc. and the Swift project authors
License: BSD-2-Clause and Apache-2.0 WITH Swift-exception
Comment: the module's core, with the Swift runtime and standard library linked
 in statically. The Runtime Library Exception waives the attribution that
 Apache-2.0 sections 4(a), 4(b) and 4(d) would ask of such a binary; it is
 given here all the same." >"$doc/copyright"
changelog "$tree" "$pkg"

# the maintainer scripts exactly as dh_nginx writes them (NAMES: available:enabled)
for s in postinst prerm postrm; do
    {
        printf '#!/bin/sh\nset -e\n# Automatically added by dh_nginx\n'
        sed "s/#NAMES#/$name.conf:50-$name.conf/" "$autoscripts/$s-nginx"
        printf '# End automatically added section\n'
    } >"$tree/DEBIAN/$s"
    chmod 0755 "$tree/DEBIAN/$s"
done

control "$tree" "$pkg" <<CONTROL
Depends: $abi, $(depends "$tree" -l"$modules" "$modules"/*.so)
Recommends: nginx
Suggests: backend-jwt-migrate
Description: verify callers' JWTs and mint backend JWTs in nginx
 An nginx module with both halves of a JWT gateway. It verifies the token
 a caller brings (an identity provider's access token: signature by key
 files or a JWK Set fetched at run time, issuer, audience, expiry, required
 claims and scopes; 401 or 403 otherwise), and it mints a short-lived JWT
 (RS/PS/ES/HS/EdDSA) for the backend from nginx variables and the verified
 caller's claims, forwarded upstream in a header (X-JWT-Assertion by
 default). It fails closed: a token that cannot be made or verified stops
 the request. Built for nginx with $abi.
CONTROL
debs=("$(finish "$tree" "$pkg")")

# ---------------------------------------------------------------- backend-jwt-migrate
if [ "${SKIP_MIGRATE:-}" != 1 ]; then
    pkg=backend-jwt-migrate
    build/migrate.sh
    tree=$root/build/deb
    rm -rf "$tree"
    doc=$tree/usr/share/doc/$pkg
    mkdir -p "$tree/usr/bin" "$doc" "$tree/usr/share/lintian/overrides" "$tree/DEBIAN"
    install -m 0755 "$out/backend-jwt-migrate" "$tree/usr/bin/"
    strip --remove-section=.comment "$tree/usr/bin/backend-jwt-migrate"
    install -m 0644 README.md "$doc/README.md"
    copyright "Files: usr/bin/backend-jwt-migrate
Copyright: 2026 $maintainer
 2014-2025 Apple Inc. and the Swift project authors
 2016 JP Simard (Yams)
 2006-2016 Kirill Simonov, 2017-2020 Ingy döt Net (libyaml)
 2024 Jeff Lebrun (TOMLKit)
 Mark Gillard (toml++)
 1991-2024 Unicode, Inc. (ICU)
License: BSD-2-Clause and Apache-2.0 WITH Swift-exception and Expat and Unicode-3.0
Comment: linked in statically: the Swift runtime, Foundation, libdispatch and
 swift-argument-parser (Apache-2.0 with the Runtime Library Exception), Yams
 with libyaml and TOMLKit with toml++ (Expat), and ICU through Foundation's
 _FoundationICU (Unicode-3.0)." "$(cat <<'EOF'

License: Expat
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
 OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE
 SOFTWARE.

License: Unicode-3.0
 Permission is hereby granted, free of charge, to any person obtaining a copy
 of data files and any associated documentation (the "Data Files") or software
 and any associated documentation (the "Software") (collectively, the
 "Materials"), to deal in the Materials without restriction, including without
 limitation the rights to use, copy, modify, merge, publish, distribute, and/or
 sell copies of the Materials, and to permit persons to whom the Materials are
 furnished to do so, provided that either (a) this copyright and permission
 notice appear with all copies of the Materials, or (b) this copyright and
 permission notice appear in associated Documentation.
 .
 THE MATERIALS ARE PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR
 IMPLIED, INCLUDING BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY,
 FITNESS FOR A PARTICULAR PURPOSE AND NONINFRINGEMENT OF THIRD PARTY RIGHTS.
 IN NO EVENT SHALL THE COPYRIGHT HOLDER OR HOLDERS INCLUDED IN THIS NOTICE BE
 LIABLE FOR ANY CLAIM, OR ANY SPECIAL INDIRECT OR CONSEQUENTIAL DAMAGES, OR ANY
 DAMAGES WHATSOEVER RESULTING FROM LOSS OF USE, DATA OR PROFITS, WHETHER IN AN
 ACTION OF CONTRACT, NEGLIGENCE OR OTHER TORTIOUS ACTION, ARISING OUT OF OR IN
 CONNECTION WITH THE USE OR PERFORMANCE OF THE MATERIALS.
 .
 Except as contained in this notice, the name of a copyright holder shall not
 be used in advertising or otherwise to promote the sale, use or other
 dealings in these Materials without prior written authorization of the
 copyright holder.
EOF
)" >"$doc/copyright"
    changelog "$tree" "$pkg"
    printf '%s\n' "$pkg: embedded-library libyaml [usr/bin/backend-jwt-migrate]" \
        "$pkg: no-manual-page [usr/bin/backend-jwt-migrate]" >"$tree/usr/share/lintian/overrides/$pkg"
    control "$tree" "$pkg" <<CONTROL
Depends: $(depends "$tree" "$tree/usr/bin/backend-jwt-migrate")
Suggests: libnginx-mod-http-backend-jwt
Description: convert WSO2 and IBM gateway JWT settings to nginx configuration
 Reads WSO2 APK apk-conf files and custom resources, WSO2 API Manager's
 deployment.toml and IBM API Connect APIs, and writes the nginx configuration
 for libnginx-mod-http-backend-jwt that does what the gateway did: verify the
 caller's access token (issuer, JWK Set, scopes; refusing operations whose
 authentication it cannot convert) and mint the backend JWT with the caller's
 identity. What does not map is a warning with the file and line.
CONTROL
    debs+=("$(finish "$tree" "$pkg")")
fi

for deb in "${debs[@]}"; do
    echo "== built $deb"
    dpkg-deb -f "$deb" Package Version Depends
done
if command -v lintian >/dev/null; then
    echo "== lintian"
    # any error or warning that is not overridden fails the build; the overrides are listed
    # (O:) by a second run, whose status does not count (with --show-overrides, lintian's exit
    # status counts the overridden error too)
    lintian --fail-on error,warning "${debs[@]}"
    lintian --show-overrides "${debs[@]}" | grep '^O: ' || true
else
    echo "== lintian is not installed (build/deps.sh test installs it): the packages are not checked" >&2
fi
