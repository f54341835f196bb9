// swift-tools-version:6.1
// libFuzzer targets for the core, built only by build/fuzz.sh (with -sanitize=fuzzer,address):
// each is a shared library exporting LLVMFuzzerTestOneInput, linked to libFuzzer's main there.
import PackageDescription

let package = Package(
    name: "nginx-backend-jwt-fuzz",
    products: [
        .library(name: "FuzzConfig", type: .dynamic, targets: ["FuzzConfig"]),
        .library(name: "FuzzClaims", type: .dynamic, targets: ["FuzzClaims"]),
        .library(name: "FuzzVerify", type: .dynamic, targets: ["FuzzVerify"]),
    ],
    dependencies: [.package(name: "nginx-backend-jwt", path: "..")],
    targets: [
        .target(name: "FuzzConfig", dependencies: [.product(name: "BackendJWT", package: "nginx-backend-jwt")]),
        .target(name: "FuzzClaims", dependencies: [.product(name: "BackendJWT", package: "nginx-backend-jwt")]),
        .target(name: "FuzzVerify", dependencies: [.product(name: "BackendJWT", package: "nginx-backend-jwt")]),
    ]
)
