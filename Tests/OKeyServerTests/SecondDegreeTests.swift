import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@testable import OKeyServer

/// Second degree (issue 23, point 1): the principal and the deputies of the agent's establishment
/// may each decide; the first decision wins.
@Suite("second degree: head or deputy decides", .serialized)
struct SecondDegreeTests {
  @Test(
    "a collège teacher's request reaches the principal and the deputy; the deputy approves, the principal then finds it decided; a deputy of another establishment is refused"
  )
  func deputyDecides() async throws {
    try await withAcademy { daemon, client in
      let portal = TestCaller.portal(client, for: "ens-clg")
      let principal = try await TestCaller.session(client, "principal1")
      let deputy = try await TestCaller.session(client, "adjoint1")
      let otherDeputy = try await TestCaller.session(client, "adjoint2")
      let renewal = try await portal.startAndSubmit(.hardware)
      #expect(renewal.status == .pendingApproval)
      #expect(renewal.routing.n1.person.uid == "principal1")
      #expect(renewal.routing.coValidators.map(\.person.uid) == ["adjoint1"])

      // Both are asked, by mail and in their pending lists.
      let routed = try await daemon.application.store.outboxMessages(state: .pending, limit: 100).filter {
        $0.renewalID == renewal.requestID && $0.kind == .validatorRouted
      }
      #expect(Set(routed.compactMap { $0.recipient?.uid }) == ["principal1", "adjoint1"])
      for caller in [principal, deputy] {
        let pending = try await caller.approvals.listPendingApprovals(.init(), metadata: caller.metadata).renewals
        #expect(pending.map(\.requestID) == [renewal.requestID], "\(caller.name)")
      }
      let otherPending = try await otherDeputy.approvals.listPendingApprovals(
        .init(), metadata: otherDeputy.metadata
      ).renewals
      #expect(otherPending.isEmpty)
      let stranger = await failure {
        _ = try await otherDeputy.approvals.approve(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: otherDeputy.metadata)
      }
      #expect(stranger?.code == .permissionDenied)
      #expect(stranger?.reason == "NOT_AN_APPROVER")

      // The deputy reads the evidence and decides first.
      let shown = try await deputy.renewals.getRenewal(
        .with { $0.requestID = renewal.requestID }, metadata: deputy.metadata)
      #expect(shown.renewal.documents.count == 1)
      let approved = try await deputy.approvals.approve(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: deputy.metadata
      ).renewal
      #expect(approved.status == .awaitingCharter)
      let support = try await TestCaller.session(client, "helpdesk1")
      let history = try await support.support.getRenewal(
        .with { $0.requestID = renewal.requestID }, metadata: support.metadata
      ).renewal.history
      #expect(history.last { $0.action == "approve" }?.details == "approved by co-validator adjoint1")
      #expect(history.last { $0.action == "submit" }?.details.hasPrefix("routed to principal1, adjoint1") == true)

      // The principal comes second: already decided.
      let late = await failure {
        _ = try await principal.approvals.approve(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = approved.version
          }, metadata: principal.metadata)
      }
      #expect(late?.code == .failedPrecondition)
      let after = try await principal.approvals.listPendingApprovals(.init(), metadata: principal.metadata).renewals
      #expect(after.isEmpty)
      // The principal hears who decided in their stead.
      let told = try await daemon.application.store.outboxMessages(state: .pending, limit: 100).filter {
        $0.renewalID == renewal.requestID && $0.kind == .n1Informed
      }
      #expect(told.map { $0.recipient?.uid } == ["principal1"])
      #expect(told.first?.details == "approved by co-validator adjoint1")
    }
  }

  @Test("with routing.secondDegreeValidators: head, the deputy neither sees nor decides the request")
  func headAlone() async throws {
    try await withAcademy(configure: { $0.routing.secondDegreeValidators = .head }) { _, client in
      let portal = TestCaller.portal(client, for: "ens-clg")
      let deputy = try await TestCaller.session(client, "adjoint1")
      let renewal = try await portal.startAndSubmit(.hardware)
      #expect(renewal.routing.coValidators.isEmpty)
      #expect(try await deputy.approvals.listPendingApprovals(.init(), metadata: deputy.metadata).renewals.isEmpty)
      let refused = await failure {
        _ = try await deputy.approvals.approve(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: deputy.metadata)
      }
      #expect(refused?.code == .permissionDenied)
      #expect(refused?.reason == "NOT_AN_APPROVER")
    }
  }

  @Test(
    "a co-validator row written into the database file shows nothing to that person and is reported by the audit verification"
  )
  func forgedIndexRow() async throws {
    try await withAcademy { daemon, client in
      let portal = TestCaller.portal(client, for: "ens-clg")
      let stranger = try await TestCaller.session(client, "adjoint2")
      let support = try await TestCaller.session(client, "helpdesk1")
      let renewal = try await portal.startAndSubmit(.hardware)
      let database = daemon.configuration.database.path
      _ = try await sqlite3(
        database, "INSERT INTO renewal_validators (renewal_id, uid) VALUES ('\(renewal.requestID)', 'adjoint2')")
      let pending = try await stranger.approvals.listPendingApprovals(.init(), metadata: stranger.metadata).renewals
      #expect(pending.isEmpty, "the routing snapshot, not the index, says who decides")
      let forged = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
      #expect(forged.problems.map(\.kind) == ["STATE_MISMATCH"])
      #expect(forged.problems.first?.message.contains("co-validators index") == true)
      _ = try await sqlite3(database, "DELETE FROM renewal_validators WHERE uid = 'adjoint2'")
      #expect(try await support.support.verifyAuditTrail(.init(), metadata: support.metadata).intact)
    }
  }
}
