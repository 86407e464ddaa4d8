// swift-tools-version:6.1
import PackageDescription

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
                .product(name: "Kiln", package: "main"),
                .product(name: "KilnCore", package: "main"),
                .product(name: "KilnStore", package: "main"),
                .product(name: "KilnMessage", package: "main"),
                .product(name: "KilnTesting", package: "main"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
            ],
            path: "Benchmarks/KilnBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "benchmark")]
        ),
    ]
)
