// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "nginx-backend-jwt",
    products: [
        // The shared object the nginx module links: exports only the bjwt_* C ABI.
        .library(name: "backendjwt", type: .dynamic, targets: ["BackendJWTABI"]),
        // The core as a Swift library, for the fuzz targets in Fuzz/.
        .library(name: "BackendJWT", targets: ["BackendJWT"]),
        // backend-jwt-migrate: WSO2 APK, WSO2 API Manager and IBM API Connect settings to nginx.
        .executable(name: "backend-jwt-migrate", targets: ["backend-jwt-migrate"]),
    ],
    dependencies: [
        // Tests only: an independent JOSE implementation that verifies our tokens.
        .package(url: "https://github.com/vapor/jwt-kit.git", from: "5.8.0"),
        // backend-jwt-migrate only (never linked into the core): arguments, YAML, TOML.
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/LebJe/TOMLKit.git", from: "0.6.0"),
    ],
    targets: [
        // The system libcrypto, the same one nginx links.
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),
        // The C header of the ABI (include/backend_jwt.h), so Swift uses its constants.
        .systemLibrary(name: "CBackendJWT", path: "include"),
        // Atomic adds and loads on shared memory, for the counters of backend_jwt_status.
        .systemLibrary(name: "CAtomics"),
        // Config validation, claim mapping, JSON, encoding and signing (the C header for the
        // JWK Set state the module keeps in shared memory).
        .target(name: "BackendJWT", dependencies: ["COpenSSL", "CAtomics", "CBackendJWT"]),
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
        // The conversions of backend-jwt-migrate: gateway settings in, nginx configuration out.
        .target(
            name: "BackendJWTMigrate",
            dependencies: [.product(name: "Yams", package: "Yams"), .product(name: "TOMLKit", package: "TOMLKit")]
        ),
        // The command line around it.
        .executableTarget(
            name: "backend-jwt-migrate",
            // CBackendJWT: the release number (BJWT_VERSION), nothing else of the core
            dependencies: ["BackendJWTMigrate", "CBackendJWT", .product(name: "ArgumentParser", package: "swift-argument-parser")]
        ),
        .testTarget(
            name: "BackendJWTMigrateTests",
            dependencies: ["BackendJWTMigrate"],
            path: "Tests/BackendJWTMigrateTests",
            exclude: ["Fixtures"]
        ),
    ]
)
