// swift-tools-version:6.1
import PackageDescription

let package = Package(
    name: "Cordon",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "cordon", targets: ["cordon"]),
        .executable(name: "cordon-agent", targets: ["cordon-agent"]),
        .library(name: "CordonCodecs", targets: ["CordonCodecs"]),
        .library(name: "CordonShared", targets: ["CordonShared"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-certificates.git", from: "1.21.1"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-asn1.git", from: "1.7.4"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.5.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
    ],
    targets: [
        // Pure protocol codecs: no dependencies at all, so a fuzz build takes seconds.
        .target(name: "CordonCodecs", path: "Sources/Shared/Codecs"),
        // The git commit of the build, for `--version` (written by the plugin before each build).
        .target(name: "CordonBuildInfo", path: "Sources/Shared/BuildInfo", plugins: ["BuildInfoPlugin"]),
        .plugin(name: "BuildInfoPlugin", capability: .buildTool(), path: "Plugins/BuildInfoPlugin"),
        // Wire protocol, catalogue, task vocabulary, signing, PKI helpers.
        .target(
            name: "CordonShared",
            dependencies: [
                "CordonCodecs",
                "CordonBuildInfo",
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "SwiftASN1", package: "swift-asn1"),
                .product(name: "Yams", package: "Yams"),
            ],
            path: "Sources/Shared/Core"
        ),
        // JSON over mutual TLS to the coordinator: the agent's uplink and the operator CLI.
        .target(
            name: "CordonTransport",
            dependencies: [
                "CordonShared",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ],
            path: "Sources/Shared/Transport"
        ),
        // Simulated worm-era hosts (SMB, IIS, backdoors, Conficker P2P) for `cordon demo` and the lab.
        .target(
            name: "CordonWormHosts",
            dependencies: [
                "CordonCodecs",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            path: "Sources/Shared/WormHosts"
        ),
        .target(
            name: "CordonAgent",
            dependencies: [
                "CordonShared",
                "CordonTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "X509", package: "swift-certificates"),
            ],
            path: "Sources/Agent/CordonAgent"
        ),
        .executableTarget(name: "cordon-agent", dependencies: ["CordonAgent"], path: "Sources/Agent/cordon-agent"),
        .target(
            name: "CordonCoordinator",
            dependencies: [
                "CordonShared",
                "CordonTransport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "HummingbirdCore", package: "hummingbird"),
                .product(name: "NIOTLS", package: "swift-nio"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            path: "Sources/Coordinator/CordonCoordinator"
        ),
        // `cordon demo`: a coordinator, agents and worm-era hosts on loopback.
        .target(
            name: "CordonDemo",
            dependencies: [
                "CordonCoordinator", "CordonAgent", "CordonTransport", "CordonWormHosts", "CordonCodecs",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            path: "Sources/Coordinator/CordonDemo"
        ),
        .executableTarget(name: "cordon", dependencies: ["CordonCoordinator", "CordonDemo"], path: "Sources/Coordinator/cordon"),
        // The network decoders under libFuzzer (`scripts/fuzz decoders`); built plainly, a replay tool.
        .executableTarget(name: "cordon-fuzz-decoders", dependencies: ["CordonShared", .product(name: "Crypto", package: "swift-crypto")],
                          path: "fuzz/Decoders"),

        .testTarget(name: "CodecsTests", dependencies: ["CordonCodecs"], exclude: ["Fixtures"]),
        .testTarget(name: "SharedTests", dependencies: ["CordonShared", "CordonCodecs", "CordonTransport",
                                                        .product(name: "NIOFoundationCompat", package: "swift-nio")]),
        .testTarget(
            name: "AgentTests",
            dependencies: [
                "CordonAgent", "CordonDemo", "CordonWormHosts",
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "X509", package: "swift-certificates"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            exclude: ["Fixtures"]),
        .testTarget(name: "CoordinatorTests", dependencies: ["CordonCoordinator", .product(name: "Yams", package: "Yams")]),
        .testTarget(
            name: "IntegrationTests",
            dependencies: [
                "CordonCoordinator", "CordonAgent", "CordonDemo", "CordonTransport",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOFoundationCompat", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ]),
        .testTarget(name: "LabTests", dependencies: ["CordonCoordinator", "CordonAgent", "CordonDemo", "CordonWormHosts", "CordonTransport"]),
    ],
    swiftLanguageModes: [.v6]
)
