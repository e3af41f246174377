import Foundation
import GRPCCore
import OKeyAPI
import OKeyTestSupport
import Testing

@Suite("what each cache forgets, and when", .serialized)
struct CachePolicyTests {
  @Test(
    "a re-route reads the directory itself: a manager added to the agent's entry after her routing was cached is her new N+1",
    .timeLimit(.minutes(1)))
  func rerouteReadsPastTheCaches() async throws {
    try await withAcademy { _, client, slapd in
      let agent = try await TestCaller.session(client, "ens1a")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let submitted = try await agent.startAndSubmit(.software)
      #expect(submitted.routing.n1.person.uid == "ien1")
      // Cached now: the resolution, and ens1a's entry in the directory cache.
      _ = try await agent.renewals.listMyRenewals(.init(), metadata: agent.metadata)
      try await slapd.modify(
        """
        dn: uid=ens1a,ou=people,dc=ac-test,dc=fr
        changetype: modify
        add: manager
        manager: uid=principal1,ou=people,dc=ac-test,dc=fr

        """)
      let rerouted = try await dsi.operations.reroute(
        .with {
          $0.requestID = submitted.requestID
          $0.expectedVersion = submitted.version
        }, metadata: dsi.metadata
      ).renewal
      #expect(rerouted.routing.n1.person.uid == "principal1")
    }
  }
}
