// swift-tools-version:6.1
import Foundation
import PackageDescription

// SwiftPM names a local package after its folder: find out what the checkout is called
// (`main`, `kiln`, anything a clone chose) instead of assuming it.
let kiln = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

// A nested package so that the main build does not pay for the benchmark framework.
// Run from the repository root with `make bench`.
let package = Package(
    name: "KilnBenchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(path: "../"),
        .package(url: "https://github.com/ordo-one/benchmark", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    ],
    targets: [
        .executableTarget(
            name: "KilnBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "benchmark"),
                .product(name: "Kiln", package: kiln),
                .product(name: "KilnCore", package: kiln),
                .product(name: "KilnStore", package: kiln),
                .product(name: "KilnMessage", package: kiln),
                .product(name: "KilnTesting", package: kiln),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            path: "Benchmarks/KilnBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
