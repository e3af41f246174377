// swift-tools-version:6.1
// OKEY — renewal of the OTP keys of an academy's staff: gRPC server, domain, store, directory,
// client library and command-line tool. See README.md and ../shared/DESIGN.md.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
  .swiftLanguageMode(.v6),
  .enableUpcomingFeature("ExistentialAny"),
]

let grpcCore = Target.Dependency.product(name: "GRPCCore", package: "grpc-swift-2")
let grpcHTTP2 = Target.Dependency.product(name: "GRPCNIOTransportHTTP2", package: "grpc-swift-nio-transport")
let grpcProtobuf = Target.Dependency.product(name: "GRPCProtobuf", package: "grpc-swift-protobuf")
let swiftProtobuf = Target.Dependency.product(name: "SwiftProtobuf", package: "swift-protobuf")
let logging = Target.Dependency.product(name: "Logging", package: "swift-log")
let argumentParser = Target.Dependency.product(name: "ArgumentParser", package: "swift-argument-parser")

let package = Package(
  name: "okey",
  platforms: [.macOS(.v15)],
  products: [
    .executable(name: "okeyd", targets: ["okeyd"]),
    .executable(name: "okey", targets: ["okey"]),
    .library(name: "OKeyClient", targets: ["OKeyClient"]),
  ],
  dependencies: [
    .package(url: "https://github.com/grpc/grpc-swift-2", from: "2.4.3"),
    .package(url: "https://github.com/grpc/grpc-swift-nio-transport", from: "2.9.2"),
    .package(url: "https://github.com/grpc/grpc-swift-protobuf", from: "2.4.1"),
    .package(url: "https://github.com/apple/swift-protobuf", from: "1.39.0"),
    .package(url: "https://github.com/apple/swift-nio", from: "2.101.3"),
    .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
    .package(url: "https://github.com/apple/swift-nio-extras", from: "1.35.2"),
    .package(url: "https://github.com/apple/swift-crypto", from: "4.5.2"),
    .package(url: "https://github.com/apple/swift-certificates", from: "1.21.1"),
    .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
    .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
    .package(url: "https://github.com/groue/GRDB.swift", from: "7.10.0"),
    .package(url: "https://github.com/jpsim/Yams", from: "6.2.2"),
    .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
    .package(url: "https://github.com/vapor/postgres-nio", from: "1.33.2"),
  ],
  targets: [
    // Renewal rules: entities, state machine, policies. Pure: no Foundation, no I/O.
    .target(name: "OKeyDomain", swiftSettings: swiftSettings),

    // OpenLDAP's libldap and liblber.
    .systemLibrary(name: "CLDAP", pkgConfig: "ldap", providers: [.apt(["libldap2-dev"])]),
    // libqrencode, which draws the QR code of a software token's enrolment code.
    .systemLibrary(name: "CQRencode", pkgConfig: "libqrencode", providers: [.apt(["libqrencode-dev"])]),

    // The directory port, its LDAP adapter and the routing resolver.
    .target(
      name: "OKeyDirectory",
      dependencies: [
        "OKeyDomain", "CLDAP", logging,
        .product(name: "NIOPosix", package: "swift-nio"),
      ],
      swiftSettings: swiftSettings
    ),

    // The store port: the RenewalStore protocol and its value types, without any database engine;
    // the SQLite store (OKeyStore) is one adapter of it.
    .target(
      name: "OKeyStorePort",
      dependencies: ["OKeyDomain", .product(name: "Crypto", package: "swift-crypto")],
      swiftSettings: swiftSettings
    ),

    // SQLite persistence: migrations, requests, documents, audit chain, outbox.
    .target(
      name: "OKeyStore",
      dependencies: [
        "OKeyDomain", "OKeyStorePort",
        .product(name: "GRDB", package: "GRDB.swift"),
        .product(name: "Crypto", package: "swift-crypto"),
      ],
      swiftSettings: swiftSettings
    ),

    // PostgreSQL persistence (several okeyd replicas on one database): the second adapter of the
    // store port, on postgres-nio.
    .target(
      name: "OKeyPostgresStore",
      dependencies: [
        "OKeyDomain", "OKeyStorePort", logging,
        .product(name: "PostgresNIO", package: "postgres-nio"),
      ],
      swiftSettings: swiftSettings
    ),

    // Code generated from Protos/ by Tools/generate-protos (committed).
    .target(
      name: "OKeyAPI",
      dependencies: [grpcCore, grpcProtobuf, swiftProtobuf],
      swiftSettings: [.swiftLanguageMode(.v6)]
    ),

    // The RPC services, authentication, mapping, configuration and lifecycle of okeyd.
    .target(
      name: "OKeyServer",
      dependencies: [
        "OKeyAPI", "OKeyDomain", "OKeyStore", "OKeyPostgresStore", "OKeyDirectory", "CQRencode",
        grpcCore, grpcHTTP2, grpcProtobuf, swiftProtobuf, logging,
        .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        .product(name: "Crypto", package: "swift-crypto"),
        .product(name: "X509", package: "swift-certificates"),
        .product(name: "Yams", package: "Yams"),
        .product(name: "Prometheus", package: "swift-prometheus"),
        .product(name: "NIOCore", package: "swift-nio"),
        .product(name: "NIOPosix", package: "swift-nio"),
        .product(name: "NIOHTTP1", package: "swift-nio"),
        .product(name: "NIOSSL", package: "swift-nio-ssl"),
        .product(name: "NIOCertificateReloading", package: "swift-nio-extras"),
        .product(name: "UnixSignals", package: "swift-service-lifecycle"),
      ],
      swiftSettings: swiftSettings
    ),

    // The companion client library: a typed async API over the generated client.
    .target(
      name: "OKeyClient",
      dependencies: ["OKeyAPI", grpcCore, grpcHTTP2, grpcProtobuf, swiftProtobuf],
      swiftSettings: swiftSettings
    ),

    .executableTarget(
      name: "okeyd", dependencies: ["OKeyServer", "OKeyStore", "OKeyPostgresStore", argumentParser, logging],
      swiftSettings: swiftSettings),
    .executableTarget(name: "okey", dependencies: ["OKeyClient", argumentParser], swiftSettings: swiftSettings),
    // The benchmark tool: each scenario next to its baseline in the same run.
    .executableTarget(
      name: "okey-bench",
      dependencies: ["OKeyClient", "OKeyDirectory", "OKeyDomain", "OKeyStore", argumentParser],
      swiftSettings: swiftSettings
    ),

    // Shared test fixtures: temporary folders, okeyd processes, slapd.
    .target(
      name: "OKeyTestSupport",
      dependencies: [
        "OKeyServer", "OKeyClient", "OKeyDirectory", logging, .product(name: "Crypto", package: "swift-crypto"),
      ],
      path: "Tests/OKeyTestSupport",
      swiftSettings: swiftSettings
    ),
    // A writer process the store's crash test kills with SIGKILL.
    .executableTarget(
      name: "okey-store-writer",
      dependencies: ["OKeyStore", "OKeyDomain"],
      path: "Tests/StoreWriter",
      swiftSettings: swiftSettings
    ),
    .testTarget(name: "OKeyDomainTests", dependencies: ["OKeyDomain"], swiftSettings: swiftSettings),
    .testTarget(
      name: "OKeyDirectoryTests", dependencies: ["OKeyDirectory", "OKeyTestSupport"], swiftSettings: swiftSettings),
    .testTarget(
      name: "OKeyStoreTests", dependencies: ["OKeyStore", "OKeyPostgresStore", "OKeyDomain", "OKeyTestSupport"],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "OKeyServerTests",
      dependencies: [
        "OKeyServer", "OKeyAPI", "OKeyStore", "OKeyTestSupport", grpcCore, grpcHTTP2, grpcProtobuf,
        .product(name: "Yams", package: "Yams"),
      ],
      swiftSettings: swiftSettings
    ),
    .testTarget(
      name: "OKeyClientTests", dependencies: ["OKeyClient", "OKeyTestSupport"], swiftSettings: swiftSettings),
  ]
)
