// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "nginx-backend-jwt",
    products: [
        // The shared object the nginx module links: exports only the bjwt_* C ABI.
        .library(name: "backendjwt", type: .dynamic, targets: ["BackendJWTABI"]),
        // The core as a Swift library, for the fuzz targets in Fuzz/.
        .library(name: "BackendJWT", targets: ["BackendJWT"]),
    ],
    dependencies: [
        // Tests only: an independent JOSE implementation that verifies our tokens.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0")
    ],
    targets: [
        // The system libcrypto, the same one nginx links.
        .systemLibrary(name: "COpenSSL", pkgConfig: "openssl", providers: [.apt(["libssl-dev"])]),
        // The C header of the ABI (include/backend_jwt.h), so Swift uses its constants.
        .systemLibrary(name: "CBackendJWT", path: "include"),
        // Config validation, claim mapping, JSON, encoding and signing.
        .target(name: "BackendJWT", dependencies: ["COpenSSL"]),
        // The @_cdecl functions declared in include/backend_jwt.h.
        .target(name: "BackendJWTABI", dependencies: ["BackendJWT", "CBackendJWT"]),
        .testTarget(
            name: "BackendJWTTests",
            dependencies: [
                "BackendJWT", "BackendJWTABI", "CBackendJWT",
                .product(name: "JWTKit", package: "jwt-kit"),
            ],
            path: "Tests/BackendJWTTests",
            exclude: ["Fixtures"]
        ),
    ]
)
