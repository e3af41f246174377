import Foundation
import GRPCCore
import OKeyAPI
import OKeyTestSupport
import Testing

@testable import OKeyServer

@Suite("deadlines", .serialized)
struct DeadlineTests {
  @Test(
    "a call whose deadline passes while the directory is slow fails DEADLINE_EXCEEDED and writes nothing, even when the directory answers later"
  )
  func pastDeadlineWritesNothing() async throws {
    try await withSlapd { slapd in
      try await withOKeyDaemon(configure: { configuration in
        configuration.directory = slapd.directoryConfiguration(cacheTTLSeconds: 0)
        configuration.directory.operationTimeoutSeconds = 5
        configuration.serviceAccounts = [.init(name: "portal", keySHA256: Tokens.hash(portalKey))]
      }) { daemon, address in
        try await withClient(address) { client in
          let agent = try await TestCaller.session(client, "ens1b")
          slapd.pause()
          let resume = Task {
            try await Task.sleep(for: .milliseconds(1500))
            slapd.resume()
          }
          var options = CallOptions.defaults
          options.timeout = .milliseconds(700)
          let outcome = await failure {
            _ = try await agent.renewals.startRenewal(
              .with {
                $0.keyType = .software
                $0.motif = .expired
              }, metadata: agent.metadata, options: options)
          }
          #expect(outcome?.code == .deadlineExceeded)
          try await resume.value
          // Wait until the abandoned handler has returned (no fixed sleep: a slow machine waits longer).
          try await pollUntil("the abandoned StartRenewal handler returned", limit: .seconds(20)) {
            daemon.metrics.callsFinished(method: "okey.v1.RenewalService/StartRenewal") >= 1
          }
          let mine = try await agent.renewals.listMyRenewals(.init(), metadata: agent.metadata).renewals
          #expect(mine.isEmpty, "a call past its deadline wrote a request")
          #expect(try await daemon.application.store.verifyAuditTrail().eventsChecked == 0)
        }
      }
    }
  }
}
