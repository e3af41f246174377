import Foundation
import GRPCCore
import OKeyAPI
import OKeyTestSupport
import Testing

@testable import OKeyServer

@Suite("logout ends sessions on the server", .serialized)
struct LogoutTests {
  @Test("a logged-out token is refused at once, other sessions and service accounts are untouched")
  func logout() async throws {
    try await withAcademy { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let other = try await TestCaller.session(client, "ens1b")
      // The token is used first, so that the server remembers its session.
      #expect(try await agent.auth.whoAmI(.init(), metadata: agent.metadata).principal.uid == "ens1a")
      #expect(try await agent.auth.logout(.init(), metadata: agent.metadata).uid == "ens1a")

      let after = await failure { _ = try await agent.auth.whoAmI(.init(), metadata: agent.metadata) }
      #expect(after?.code == .unauthenticated)
      #expect(after?.reason == "TOKEN_INVALID")
      #expect(
        await failure { _ = try await agent.renewals.listMyRenewals(.init(), metadata: agent.metadata) }?.code
          == .unauthenticated)
      #expect(
        await failure { _ = try await agent.auth.logout(.init(), metadata: agent.metadata) }?.code == .unauthenticated)
      #expect(try await other.auth.whoAmI(.init(), metadata: other.metadata).principal.uid == "ens1b")

      // A service-account key is not a session: nothing to end, and it keeps working.
      let portal = TestCaller.portal(client, for: "ens1a")
      let refused = await failure { _ = try await portal.auth.logout(.init(), metadata: portal.metadata) }
      #expect(refused?.code == .failedPrecondition)
      #expect(refused?.reason == "NOT_A_SESSION")
      #expect(try await portal.auth.whoAmI(.init(), metadata: portal.metadata).principal.uid == "ens1a")

      let anonymous = TestCaller.anonymous(client)
      #expect(
        await failure { _ = try await anonymous.auth.logout(.init(), metadata: anonymous.metadata) }?.code
          == .unauthenticated)
    }
  }
}
