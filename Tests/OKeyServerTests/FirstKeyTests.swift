import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyTestSupport
import Testing

@testable import OKeyServer

/// First key (issue 23, point 3): the same procedure for someone who never had a key of that type.
@Suite("first key", .serialized)
struct FirstKeyTests {
  @Test(
    "a first software key: approved as usual, the steps and the completion mail tell the agent to define a PIN with the OTP system; a second first key of that type is refused with the renewal path named"
  )
  func firstSoftwareKey() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: { $0.mail.command = capture.command }) { daemon, client in
        let agent = TestCaller.portal(client, for: "ens-clg")
        let principal = try await TestCaller.session(client, "principal1")
        let dsi = try await TestCaller.session(client, "dsi-op1")
        try await dsi.publishCharter(version: "2026-12", code: "2718")

        var renewal = try await agent.startAndSubmit(.software, motif: .firstKey)
        #expect(renewal.motif == .firstKey)
        #expect(renewal.status == .pendingApproval)
        renewal = try await principal.approvals.approve(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: principal.metadata
        ).renewal
        let (instructions, completed) = try await completeSoftwareKey(
          renewal, agent: agent, dsi: dsi, platform: .ios, charterCode: "2718", serial: "SW-FIRST-1")
        renewal = completed
        #expect(
          instructions.steps.last
            == "Attendez la confirmation de la DSI, puis signez la charte. C'est votre première clé : définissez son code PIN avec le système OTP, jamais dans OKEY."
        )
        #expect(renewal.status == .completed)
        _ = try await daemon.notifications.deliverDue(now: daemon.application.clock())
        let completion = capture.messages.first {
          header("X-OKEY-Request", in: $0) == renewal.requestID && $0.contains("SW-FIRST-1")
        }
        #expect(
          completion?.contains("votre première clé SW-FIRST-1 est active. Définissez son code PIN avec le système OTP")
            == true)
        #expect(completion?.contains("ancienne") == false)

        // Now that the agent holds an active software key, a first one is a renewal.
        let again = await failure {
          _ = try await agent.renewals.startRenewal(
            .with {
              $0.keyType = .software
              $0.motif = .firstKey
            }, metadata: agent.metadata)
        }
        #expect(again?.code == .failedPrecondition)
        #expect(again?.reason == "HAS_ACTIVE_KEY")
        // A first hardware key is still one.
        let hardware = try await agent.renewals.startRenewal(
          .with {
            $0.keyType = .hardware
            $0.motif = .firstKey
          }, metadata: agent.metadata
        ).renewal
        #expect(hardware.status == .draft)
      }
    }
  }

  @Test("a key recorded after a first key was started (an import) makes its submission a refused renewal")
  func keyRecordedMeanwhile() async throws {
    try await withAcademy { daemon, client in
      let agent = TestCaller.portal(client, for: "ens-clg")
      var renewal = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .hardware
          $0.motif = .firstKey
        }, metadata: agent.metadata
      ).renewal
      renewal = try await agent.renewals.addDocument(
        .with {
          $0.requestID = renewal.requestID
          $0.filename = "lettre.pdf"
          $0.kind = "supporting-document"
          $0.content = pdfBytes
          $0.expectedVersion = renewal.version
        }, metadata: agent.metadata
      ).renewal
      try await daemon.application.store.importKeys([
        KeyRecord(
          serial: "HW-OLD-9", agentUID: "ens-clg", keyType: .hardware, status: .active,
          activatedAt: daemon.application.clock(), renewalID: nil)
      ])
      let submitted = await failure {
        _ = try await agent.renewals.submitRenewal(
          .with {
            $0.requestID = renewal.requestID
            $0.expectedVersion = renewal.version
          }, metadata: agent.metadata)
      }
      #expect(submitted?.code == .failedPrecondition)
      #expect(submitted?.reason == "HAS_ACTIVE_KEY")
      #expect(try await agent.get(renewal.requestID).status == .draft)
    }
  }
}
