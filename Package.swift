// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Kiln",
    // Kiln is Linux only (Debian and Ubuntu tested): on any other system KilnCore's
    // Platform.swift stops the build with an #error. Linux needs no platforms entry; the
    // macOS floor stays so that on a Mac the dependencies (and Synchronization's Mutex)
    // resolve and the build reaches that #error, rather than failing in SwiftPM's
    // dependency checks with a message about deployment targets.
    platforms: [.macOS(.v15)],
    products: [
        .library(name: "Kiln", targets: ["Kiln"]),
        .library(name: "KilnCore", targets: ["KilnCore"]),
        .library(name: "KilnConfiguration", targets: ["KilnConfiguration"]),
        .library(name: "KilnDNS", targets: ["KilnDNS"]),
        .library(name: "KilnStore", targets: ["KilnStore"]),
        .library(name: "KilnMessage", targets: ["KilnMessage"]),
        .library(name: "KilnTesting", targets: ["KilnTesting"]),
        .library(name: "KilnSimulation", targets: ["KilnSimulation"]),
        .library(name: "KilnFeedback", targets: ["KilnFeedback"]),
        .library(name: "KilnServe", targets: ["KilnServe"]),
        .library(name: "KilnSubmission", targets: ["KilnSubmission"]),
        .executable(name: "kiln", targets: ["KilnCLI"]),
        .executable(name: "kiln-cluster-bench", targets: ["KilnClusterBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-certificates", from: "1.10.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/groue/GRDB.swift", from: "7.0.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache", from: "2.1.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.0.0"),
    ],
    targets: [
        // Pure domain: no I/O, no clock reads, no C.
        .target(
            name: "KilnCore",
            dependencies: [.product(name: "DequeModule", package: "swift-collections")]
        ),
        .target(
            name: "KilnMessage",
            dependencies: [
                "KilnCore", "COpenSSL",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        // Bounces, complaints and auto-replies: what came back, and for whom.
        .target(name: "KilnFeedback", dependencies: ["KilnCore"]),
        // Simulated mailbox providers driving the real core over virtual time.
        .target(name: "KilnSimulation", dependencies: ["KilnCore", "KilnConfiguration", .product(name: "DequeModule", package: "swift-collections")]),
        // OpenSSL's libcrypto for DKIM RSA signatures, where it is faster than swift-crypto.
        .systemLibrary(
            name: "COpenSSL",
            providers: [.apt(["libssl-dev"])]
        ),
        .systemLibrary(
            name: "CCurl",
            providers: [.apt(["libcurl4-openssl-dev"])]
        ),
        .target(
            name: "KilnStore",
            dependencies: ["KilnCore", .product(name: "GRDB", package: "GRDB.swift")]
        ),
        // The store shared by several nodes: PostgreSQL (leases by FOR UPDATE SKIP LOCKED).
        .target(
            name: "KilnPostgres",
            dependencies: [
                "KilnCore", "KilnStore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // DNS: the message codec, a stub resolver, MX resolution with a TTL cache and the MX
        // order, SPF evaluation.
        .target(name: "KilnDNS", dependencies: ["KilnCore"]),
        // The configuration: its model, loading (JSON checked with paths), validation.
        .target(name: "KilnConfiguration", dependencies: ["KilnCore", "KilnDNS"]),
        .target(
            name: "KilnSMTP",
            dependencies: [
                "KilnCore", "KilnDNS", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "DequeModule", package: "swift-collections"),
            ]
        ),
        .target(
            name: "Kiln",
            dependencies: [
                "KilnCore", "KilnConfiguration", "KilnDNS", "KilnMessage", "KilnStore", "KilnPostgres", "KilnSMTP", "KilnFeedback", "CCurl",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                // Metrics through the embedder's backend (the CLI bootstraps Prometheus).
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        // The front door: the SMTP submission listener (SwiftNIO, STARTTLS, AUTH),
        // credentials, tenants, sending authorization and quotas.
        .target(
            name: "KilnSubmission",
            dependencies: [
                "Kiln", "KilnCore", "KilnConfiguration", "KilnStore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // The one-click unsubscribe endpoint (RFC 8058), embeddable in a Hummingbird app;
        // the operations routes and the HTTP injection API (/v1).
        .target(
            name: "KilnServe",
            dependencies: [
                "Kiln", "KilnSubmission", .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"), .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Scriptable SMTP receivers on loopback addresses (SwiftNIO): the demo's
        // providers, and the real-socket end of the integration tests.
        .target(
            name: "KilnLoopback",
            dependencies: [
                "KilnCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ]
        ),
        // Test doubles: fake transport, manual clock, independent checkers. Never linked
        // into the shipped binary.
        .target(
            name: "KilnTesting",
            dependencies: [
                "KilnCore", "KilnDNS", "KilnSMTP", "KilnLoopback", "KilnStore",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                // STARTTLS in the test receivers, with throwaway certificates.
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .executableTarget(
            name: "KilnCLI",
            dependencies: [
                "Kiln", "KilnConfiguration", "KilnLoopback", "KilnSimulation", "KilnFeedback", "KilnServe", "KilnSubmission",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ]
        ),
        // The cluster figures (scripts/cluster-bench.sh): lease contention, SQLite against PostgreSQL.
        .executableTarget(
            name: "KilnClusterBench",
            dependencies: ["Kiln", "KilnPostgres", "KilnLoopback", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        // The README's embedding example, compiled with every build so that it stays true.
        .executableTarget(name: "KilnEmbeddingExample", dependencies: ["Kiln"], path: "Examples/Embedding"),
        .testTarget(name: "KilnCoreTests", dependencies: ["KilnCore"]),
        .testTarget(name: "KilnSimulationTests", dependencies: ["KilnSimulation"]),
        .testTarget(name: "KilnFeedbackTests", dependencies: ["KilnFeedback", "KilnCore"]),
        .testTarget(
            name: "KilnMessageTests",
            dependencies: [
                "KilnMessage", "KilnTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "Mustache", package: "swift-mustache"),
            ]
        ),
        .testTarget(name: "KilnStoreTests", dependencies: ["KilnStore", "KilnTesting"]),
        .testTarget(
            name: "KilnPostgresTests",
            dependencies: ["KilnPostgres", "KilnStore", "Kiln", "KilnSubmission", "KilnTesting", .product(name: "PostgresNIO", package: "postgres-nio")]
        ),
        .testTarget(name: "KilnConfigurationTests", dependencies: ["KilnConfiguration", "KilnCore"]),
        .testTarget(name: "KilnDNSTests", dependencies: ["KilnDNS", "KilnTesting"]),
        .testTarget(name: "KilnSMTPTests", dependencies: ["KilnSMTP", "KilnDNS", "KilnTesting"]),
        .testTarget(
            name: "KilnTests",
            dependencies: [
                "Kiln", "KilnTesting",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "CryptoExtras", package: "swift-crypto"),
                .product(name: "GRDB", package: "GRDB.swift"),
            ]
        ),
        .testTarget(
            name: "KilnCLITests",
            dependencies: [
                "KilnTesting", "KilnStore", .product(name: "Hummingbird", package: "hummingbird"), .product(name: "Crypto", package: "swift-crypto"),
            ]
        ),
        .testTarget(
            name: "KilnSubmissionTests",
            dependencies: [
                "KilnSubmission", "Kiln", "KilnTesting", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "MetricsTestKit", package: "swift-metrics"),
            ]
        ),
        .testTarget(
            name: "KilnServeTests",
            dependencies: ["KilnServe", "KilnSubmission", "Kiln", "KilnTesting", .product(name: "Hummingbird", package: "hummingbird")]
        ),
    ]
)
