import Foundation
import OKeyClient
import OKeyServer
import OKeyTestSupport
import Testing

@Suite("TLS on the gRPC listener", .serialized)
struct TLSTests {
  @Test("a client trusting okeyd's CA gets SERVING over TLS; a plaintext client does not get through")
  func tls() async throws {
    try await withTemporaryDirectory { folder in
      let pki = try await TestPKI.make(in: folder)
      try await withOKeyDaemon(configure: {
        $0.plaintext = false
        $0.tls = .init(certificateFile: pki.serverCertificate, privateKeyFile: pki.serverKey)
      }) { _, address in
        var settings = OKeyClientSettings(host: "127.0.0.1", port: address.port, timeout: .seconds(5))
        settings.tls = .init(caCertificateFile: pki.ca)
        let status = try await OKeyClient.with(settings) { try await $0.servingStatus() }
        #expect(status == .serving)
        let plain = OKeyClientSettings(host: "127.0.0.1", port: address.port, timeout: .seconds(5))
        await #expect {
          _ = try await OKeyClient.with(plain) { try await $0.servingStatus() }
        } throws: { error in
          // A plaintext client speaking to a TLS listener never gets an answer: UNAVAILABLE.
          if (error as? OKeyClientError)?.kind == .unavailable { return true }
          return false
        }
        // And through the CLI.
        let cli = try await ChildProcess.run(
          TestPaths.executable("okey"), ["health", "--server", "127.0.0.1:\(address.port)", "--tls-ca", pki.ca])
        #expect(cli.output == "SERVING\n", "\(cli.error)")
      }
    }
  }

  @Test(
    "a rotated certificate and key are served to new connections after a reload, without a restart; a pair whose key does not match is refused and the served pair kept"
  )
  func certificateRotation() async throws {
    try await withTemporaryDirectory { folder in
      try FileManager.default.createDirectory(atPath: folder + "/a", withIntermediateDirectories: true)
      try FileManager.default.createDirectory(atPath: folder + "/b", withIntermediateDirectories: true)
      let first = try await TestPKI.make(in: folder + "/a")
      let second = try await TestPKI.make(in: folder + "/b")
      let live = (certificate: folder + "/live.pem", key: folder + "/live.key")
      func install(_ certificate: String, _ key: String) throws {
        for (source, target) in [(certificate, live.certificate), (key, live.key)] {
          try? FileManager.default.removeItem(atPath: target)
          try FileManager.default.copyItem(atPath: source, toPath: target)
        }
      }
      try install(first.serverCertificate, first.serverKey)
      try await withOKeyDaemon(configure: {
        $0.plaintext = false
        $0.tls = .init(certificateFile: live.certificate, privateKeyFile: live.key)
      }) { daemon, address in
        func serving(trusting ca: String) async -> Bool {
          var settings = OKeyClientSettings(host: "127.0.0.1", port: address.port, timeout: .seconds(5))
          settings.tls = .init(caCertificateFile: ca)
          return (try? await OKeyClient.with(settings) { try await $0.servingStatus() }) == .serving
        }
        #expect(await serving(trusting: first.ca))
        #expect(await !serving(trusting: second.ca))

        try install(second.serverCertificate, second.serverKey)
        let outcome = try daemon.reload(daemon.configuration)
        #expect(outcome.applied == ["tls"])
        #expect(await serving(trusting: second.ca))
        #expect(await !serving(trusting: first.ca))

        // The first certificate with the second key: refused, the second pair still served.
        try install(first.serverCertificate, second.serverKey)
        #expect(throws: ConfigurationError.self) { _ = try daemon.reload(daemon.configuration) }
        #expect(await serving(trusting: second.ca))
      }
    }
  }

  @Test("with a client CA configured, only clients with a certificate it signs get through")
  func mutualTLS() async throws {
    try await withTemporaryDirectory { folder in
      let pki = try await TestPKI.make(in: folder)
      try await withOKeyDaemon(configure: {
        $0.plaintext = false
        $0.tls = .init(certificateFile: pki.serverCertificate, privateKeyFile: pki.serverKey, clientCAFile: pki.ca)
      }) { _, address in
        var anonymous = OKeyClientSettings(host: "127.0.0.1", port: address.port, timeout: .seconds(5))
        anonymous.tls = .init(caCertificateFile: pki.ca)
        await #expect {
          _ = try await OKeyClient.with(anonymous) { try await $0.servingStatus() }
        } throws: { error in
          // The handshake fails without a client certificate: UNAVAILABLE.
          if (error as? OKeyClientError)?.kind == .unavailable { return true }
          return false
        }
        var trusted = anonymous
        trusted.tls = .init(
          caCertificateFile: pki.ca, clientCertificateFile: pki.clientCertificate, clientKeyFile: pki.clientKey)
        let status = try await OKeyClient.with(trusted) { try await $0.servingStatus() }
        #expect(status == .serving)
      }
    }
  }

  @Test("a service account bound to a client certificate is refused from another certificate of the same CA")
  func keyBoundToCertificate() async throws {
    try await withTemporaryDirectory { folder in
      let pki = try await TestPKI.make(in: folder)
      try await withOKeyDaemon(configure: {
        $0.plaintext = false
        $0.tls = .init(certificateFile: pki.serverCertificate, privateKeyFile: pki.serverKey, clientCAFile: pki.ca)
        $0.serviceAccounts = [
          .init(
            name: "portal", keySHA256: sha256Hex("bound-portal-key"), actsForPeople: false,
            clientCertificateSubject: "CN=portal")
        ]
      }) { _, address in
        func whoAmI(certificate: String, key: String) async throws -> PrincipalInfo {
          var settings = OKeyClientSettings(
            host: "127.0.0.1", port: address.port, token: "bound-portal-key", timeout: .seconds(5))
          settings.tls = .init(caCertificateFile: pki.ca, clientCertificateFile: certificate, clientKeyFile: key)
          return try await OKeyClient.with(settings) { try await $0.whoAmI() }
        }
        let own = try await whoAmI(certificate: pki.clientCertificate, key: pki.clientKey)
        #expect(own.serviceAccount == "portal")
        await #expect {
          _ = try await whoAmI(certificate: pki.otherClientCertificate, key: pki.otherClientKey)
        } throws: { error in
          guard let clientError = error as? OKeyClientError, clientError.kind == .unauthenticated else { return false }
          return clientError.message.contains("client certificate") && clientError.reason == .clientCertificate
        }
      }
    }
  }

  @Test("okeyd without TLS and without plaintext refuses a non-loopback address (exit 64, naming the setting)")
  func explicitPlaintext() async throws {
    let result = try await ChildProcess.run(
      TestPaths.executable("okeyd"), ["--listen", "0.0.0.0:0"],
      environment: ["OKEY_PLAINTEXT": "", "OKEY_AUDIT_KEY_FILE": TestAuditKey.file])
    #expect(result.status == 64)
    #expect(result.error.contains("plaintext: true"))
  }

  @Test("okeyd --listen 127.0.0.1:0 starts without any flag, says it is plaintext, and answers health")
  func loopbackPlaintext() async throws {
    let okeyd = try await OKeydProcess(arguments: ["--listen", "127.0.0.1:0"], environment: ["OKEY_PLAINTEXT": ""])
    #expect(okeyd.child.standardError.contains("plaintext (no TLS) on a loopback address"))
    let health = try await ChildProcess.run(TestPaths.executable("okey"), ["health", "--server", okeyd.address])
    #expect(health.status == 0)
    #expect(health.output.contains("SERVING"))
    #expect(try await okeyd.terminate() == 0)
  }
}
