import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyTestSupport
import Testing

@testable import OKeyServer

/// Phone change (issue 23, point 4): a new phone for a software key, without a manager's approval
/// by default, at most once per `phoneChange.minDays`.
@Suite("phone change", .serialized)
struct PhoneChangeTests {
  @Test(
    "without approval: validated at submission, nobody asked to decide; the steps and the completion mail say to remove the old phone's token; a second change within minDays is refused"
  )
  func withoutApproval() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: { $0.mail.command = capture.command }) { daemon, client in
        let agent = TestCaller.portal(client, for: "ens-clg")
        let dsi = try await TestCaller.session(client, "dsi-op1")
        let support = try await TestCaller.session(client, "helpdesk1")
        try await dsi.publishCharter(version: "2026-12", code: "1414")

        var renewal = try await agent.startAndSubmit(.software, motif: .phoneChanged)
        #expect(renewal.status == .awaitingEnrolment)
        #expect(renewal.routing.autoValidated == false, "the routing is the directory's; the motif decides")
        let asked = try await daemon.application.store.outboxMessages(state: .pending, limit: 100).filter {
          $0.renewalID == renewal.requestID && $0.kind == .validatorRouted
        }
        #expect(asked.isEmpty, "no manager is asked to decide")
        let history = try await support.support.getRenewal(
          .with { $0.requestID = renewal.requestID }, metadata: support.metadata
        ).renewal.history
        #expect(
          history.first { $0.action == "auto-validate" }?.details
            == "phone change, no approval needed (phoneChange.requiresApproval: false)")

        let (instructions, completed) = try await completeSoftwareKey(
          renewal, agent: agent, dsi: dsi, charterCode: "1414", serial: "SW-PHONE-2")
        renewal = completed
        #expect(
          instructions.steps.last == "Une fois la nouvelle clé active, supprimez le jeton de votre ancien téléphone.")
        #expect(renewal.status == .completed)
        _ = try await daemon.notifications.deliverDue(now: daemon.application.clock())
        let completion = capture.messages.first {
          header("X-OKEY-Request", in: $0) == renewal.requestID && $0.contains("SW-PHONE-2")
        }
        #expect(completion?.contains("supprimez le jeton de votre ancien téléphone") == true)

        let tooSoon = await failure {
          _ = try await agent.renewals.startRenewal(
            .with {
              $0.keyType = .software
              $0.motif = .phoneChanged
            }, metadata: agent.metadata)
        }
        #expect(tooSoon?.code == .failedPrecondition)
        #expect(tooSoon?.reason == "PHONE_CHANGE_TOO_SOON")
        // Another motif is a renewal as usual.
        let broken = try await agent.renewals.startRenewal(
          .with {
            $0.keyType = .software
            $0.motif = .broken
          }, metadata: agent.metadata
        ).renewal
        #expect(broken.status == .draft)
        _ = try await agent.renewals.cancelRenewal(
          .with {
            $0.requestID = broken.requestID
            $0.expectedVersion = broken.version
          }, metadata: agent.metadata)

        // The DSI lets the agent change phone again now: audited, the agent told, the limit lifted.
        let allowed = try await dsi.operations.allowPhoneChange(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
            $0.reason = "téléphone volé"
          }, metadata: dsi.metadata
        ).renewal
        #expect(allowed.status == .completed && allowed.hasEarlyPhoneChangeAllowedAt)
        let trail = try await support.support.getRenewal(
          .with { $0.requestID = renewal.requestID }, metadata: support.metadata
        ).renewal.history
        #expect(trail.last?.action == "allow-phone-change" && trail.last?.details == "téléphone volé", "\(trail)")
        _ = try await daemon.notifications.deliverDue(now: daemon.application.clock())
        let told = capture.messages.first {
          header("X-OKEY-Request", in: $0) == renewal.requestID && $0.contains("téléphone volé")
        }
        #expect(told?.contains("changer à nouveau de téléphone") == true)
        let again = try await agent.renewals.startRenewal(
          .with {
            $0.keyType = .software
            $0.motif = .phoneChanged
          }, metadata: agent.metadata
        ).renewal
        #expect(again.status == .draft)
      }
    }
  }

  @Test("with phoneChange.requiresApproval: true, a phone change waits for the N+1 like a renewal")
  func withApproval() async throws {
    try await withAcademy(configure: { $0.phoneChange.requiresApproval = true }) { _, client in
      let agent = TestCaller.portal(client, for: "ens-clg")
      let renewal = try await agent.startAndSubmit(.software, motif: .phoneChanged)
      #expect(renewal.status == .pendingApproval)
      #expect(renewal.routing.n1.person.uid == "principal1")
    }
  }
}
