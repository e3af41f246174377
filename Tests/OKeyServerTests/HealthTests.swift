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

  /// One sample of a scrape, as the Prometheus client's parser read it.
  struct Sample: Decodable {
    var family: String
    var type: String
    var name: String
    var labels: [String: String]
    var value: Double
  }

  /// Scrapes `port` and parses the text with the Prometheus client's own parser (Python).
  static func scrape(port: Int) async throws -> [Sample] {
    let text = try await ChildProcess.run("/usr/bin/curl", ["-sf", "http://127.0.0.1:\(port)/metrics"]).output
    let parsed = try await ChildProcess.run(
      pythonInterpreter, [TestPaths.packageRoot + "/Tests/Interop/parse_metrics.py"], input: text)
    #expect(parsed.status == 0, "the Prometheus parser refused the exposition: \(parsed.error)")
    return try parsed.output.split(separator: "\n").map {
      try JSONDecoder().decode(Sample.self, from: Data($0.utf8))
    }
  }

  @Test(
    "the signals operators watch: process, directory pool and latency by operation, store commits and size, logins by outcome, mail attempts and delays, build info; parsed by the Prometheus client's parser"
  )
  func operatorSignals() async throws {
    let port = try freeLoopbackPort()
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: {
        $0.metricsListen = ListenAddress(host: "127.0.0.1", port: port)
        $0.mail.enabled = true
        $0.mail.command = capture.command
        $0.mail.pollSeconds = 0.1
      }) { daemon, client in
        _ = try await TestCaller.session(client, "principal1")
        let wrong = await failure {
          _ = try await Okey_V1_AuthService.Client(wrapping: client).login(
            .with {
              $0.uid = "principal1"
              $0.password = "not the password"
            })
        }
        #expect(wrong?.code == .unauthenticated)
        // A submitted request: commits, and a mail to its N+1.
        _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.hardware)
        for _ in 0..<100 where capture.messages.isEmpty { try await Task.sleep(for: .milliseconds(50)) }
        #expect(!capture.messages.isEmpty)
        var samples: [Sample] = []
        for _ in 0..<50 {
          samples = try await Self.scrape(port: port)
          if samples.contains(where: { $0.name == "okey_mail_attempts_total" && $0.labels["outcome"] == "sent" }) {
            break
          }
          try await Task.sleep(for: .milliseconds(100))
        }
        func value(_ name: String, _ labels: [String: String] = [:]) -> Double? {
          samples.first { sample in
            sample.name == name && labels.allSatisfy { sample.labels[$0.key] == $0.value }
          }?.value
        }
        let now = Date().timeIntervalSince1970
        #expect((value("process_cpu_seconds_total") ?? 0) > 0)
        #expect((value("process_resident_memory_bytes") ?? 0) > 1_000_000)
        #expect((value("process_open_fds") ?? 0) > 3)
        #expect((value("process_max_fds") ?? 0) >= (value("process_open_fds") ?? 0))
        // The test process started okeyd in-process: started before now, not before an hour ago.
        #expect(((now - 3600)...now).contains(value("process_start_time_seconds") ?? 0))
        #expect(value("okey_directory_pool_in_use", ["lane": "lookups"]) == 0)
        #expect(value("okey_directory_pool_queued", ["lane": "logins"]) == 0)
        #expect((value("okey_directory_pool_threads", ["lane": "lookups"]) ?? 0) >= 1)
        #expect(value("okey_directory_busy_refusals_total", ["lane": "lookups"]) == 0)
        #expect((value("okey_directory_call_duration_seconds_count", ["operation": "password"]) ?? 0) >= 2)
        #expect((value("okey_directory_call_duration_seconds_count", ["operation": "login-lookup"]) ?? 0) >= 2)
        #expect((value("okey_directory_call_duration_seconds_count", ["operation": "people"]) ?? 0) >= 1)
        #expect((value("okey_store_commit_duration_seconds_count") ?? 0) >= 3)
        #expect((value("okey_store_database_bytes") ?? 0) > 0)
        #expect(value("okey_store_wal_bytes") != nil)
        #expect(value("okey_logins_total", ["outcome": "succeeded"]) == 1)
        #expect(value("okey_logins_total", ["outcome": "failed"]) == 1)
        #expect(value("okey_logins_total", ["outcome": "throttled"]) == 0)
        #expect((value("okey_mail_attempts_total", ["outcome": "sent"]) ?? 0) >= 1)
        #expect((value("okey_mail_delivery_delay_seconds_count") ?? 0) >= 1)
        #expect((value("okey_mail_send_duration_seconds_count") ?? 0) >= 1)
        #expect(value("okey_build_info", ["version": OKeyVersion.current]) == 1)
        _ = daemon
      }
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
