import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import Testing

/// Runs `body` with a gRPC client connected to `address`.
func withClient<Result: Sendable>(
  _ address: ListenAddress,
  _ body: (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
) async throws -> Result {
  try await withGRPCClient(
    transport: .http2NIOPosix(target: .ipv4(address: address.host, port: address.port), transportSecurity: .plaintext)
  ) { client in
    try await body(client)
  }
}

@Suite("health checking protocol")
struct HealthTests {
  @Test("Check answers SERVING for the server and for every okey.v1 service")
  func checkServing() async throws {
    try await withOKeyDaemon { _, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        for service in [""] + OKeyDaemon.apiServiceNames + [
          "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection",
        ] {
          let response = try await health.check(.with { $0.service = service })
          #expect(response.status == .serving, "service '\(service)'")
        }
      }
    }
  }

  @Test("Check of an unknown service fails with NOT_FOUND")
  func checkUnknown() async throws {
    try await withOKeyDaemon { _, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let error = await #expect(throws: RPCError.self) {
          try await health.check(.with { $0.service = "okey.v1.NoSuchService" })
        }
        #expect(error?.code == .notFound)
      }
    }
  }

  @Test("Watch sends the current status, then NOT_SERVING when shutdown starts, then ends", .timeLimit(.minutes(1)))
  func watchThroughShutdown() async throws {
    try await withOKeyDaemon { daemon, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let statuses = try await health.watch(.with { $0.service = "okey.v1.RenewalService" }) { response in
          var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
          for try await message in response.messages {
            seen.append(message.status)
            if seen.count == 1 {
              #expect(daemon.health.watcherCount == 1)
              Task { await daemon.shutDown() }
            }
          }
          return seen
        }
        #expect(statuses == [.serving, .notServing])
      }
      #expect(daemon.health.watcherCount == 0)
    }
  }

  @Test("Watch of an unknown service says SERVICE_UNKNOWN, then follows it once it is known", .timeLimit(.minutes(1)))
  func watchUnknownThenKnown() async throws {
    try await withOKeyDaemon { daemon, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let statuses = try await health.watch(.with { $0.service = "okey.v1.Later" }) { response in
          var seen: [Grpc_Health_V1_HealthCheckResponse.ServingStatus] = []
          for try await message in response.messages {
            seen.append(message.status)
            if seen.count == 1 { daemon.health.set(.serving, for: "okey.v1.Later") }
            if seen.count == 2 { break }
          }
          return seen
        }
        #expect(statuses == [.serviceUnknown, .serving])
      }
    }
  }

  @Test("a client that leaves a Watch leaves no subscription behind", .timeLimit(.minutes(1)))
  func watchClientLeaves() async throws {
    try await withOKeyDaemon { daemon, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        for _ in 0..<5 {
          try await health.watch(.with { $0.service = "" }) { response in
            for try await _ in response.messages { break }
          }
        }
      }
      let clock = ContinuousClock()
      let deadline = clock.now + .seconds(5)
      while daemon.health.watcherCount > 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
      #expect(daemon.health.watcherCount == 0)
    }
  }
}

@Suite("transport limits and unbuilt RPCs")
struct TransportTests {
  @Test("an okey.v1 call without a token is UNAUTHENTICATED, with a reason and a message that say what to do")
  func unauthenticated() async throws {
    try await withOKeyDaemon { _, address in
      try await withClient(address) { client in
        let support = Okey_V1_SupportService.Client(wrapping: client)
        let error = await #expect(throws: RPCError.self) {
          try await support.stats(Okey_V1_StatsRequest())
        }
        #expect(error?.code == .unauthenticated)
        #expect(error?.message.contains("log in") == true)
        let status = try error?.unpackGoogleRPCStatus()
        #expect(status?.details.first?.errorInfo?.reason == "TOKEN_MISSING")
      }
    }
  }

  @Test("a message over the configured size is refused and the server keeps serving")
  func oversizedMessage() async throws {
    try await withOKeyDaemon(configure: {
      $0.limits.maxMessageBytes = 4096
      $0.limits.maxDocumentBytes = 1024
    }) { _, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        let error = await #expect(throws: RPCError.self) {
          try await health.check(.with { $0.service = String(repeating: "x", count: 10_000) })
        }
        // The NIO transport refuses the frame and resets the stream: the client sees
        // RESOURCE_EXHAUSTED or UNAVAILABLE depending on timing, never a served call.
        #expect([.resourceExhausted, .unavailable].contains(error?.code), "\(String(describing: error))")
        let after = try await health.check(.with { $0.service = "" })
        #expect(after.status == .serving)
      }
    }
  }
}

@Suite("metrics for Prometheus")
struct MetricsTests {
  @Test("GET /metrics counts calls per RPC and code, with latency histograms")
  func scrape() async throws {
    let port = try freeLoopbackPort()
    try await withOKeyDaemon(configure: { $0.metricsListen = ListenAddress(host: "127.0.0.1", port: port) }) {
      _, address in
      try await withClient(address) { client in
        let health = Grpc_Health_V1_Health.Client(wrapping: client)
        for _ in 0..<3 { _ = try await health.check(.with { $0.service = "" }) }
        _ = try? await Okey_V1_SupportService.Client(wrapping: client).stats(.init())
      }
      var text = ""
      for _ in 0..<50 {
        let result = try await ChildProcess.run("/usr/bin/curl", ["-s", "http://127.0.0.1:\(port)/metrics"])
        text = result.output
        if text.contains("okey_rpc_calls_total") { break }
        try await Task.sleep(for: .milliseconds(100))
      }
      #expect(
        text.contains(#"okey_rpc_calls_total{method="grpc.health.v1.Health/Check",code="ok"} 3"#),
        "\(text.prefix(2000))")
      #expect(text.contains(#"okey_rpc_calls_total{method="okey.v1.SupportService/Stats",code="unauthenticated"} 1"#))
      #expect(text.contains("okey_rpc_duration_seconds_bucket"))
      #expect(text.contains("okey_watch_subscriptions 0"))
    }
  }
}

/// A port free on 127.0.0.1 now.
func freeLoopbackPort() throws -> Int {
  let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
  defer { close(fd) }
  var address = sockaddr_in()
  address.sin_family = sa_family_t(AF_INET)
  address.sin_addr.s_addr = inet_addr("127.0.0.1")
  address.sin_port = 0
  var length = socklen_t(MemoryLayout<sockaddr_in>.size)
  _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
  _ = withUnsafeMutablePointer(to: &address) {
    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
  }
  return Int(UInt16(bigEndian: address.sin_port))
}
