import Foundation
import GRPCCore
import OKeyAPI
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

@Suite("the whole procedure over real gRPC, okeyd and slapd", .serialized)
struct ProcedureTests {
  @Test(
    "a hardware key then a software key to COMPLETED, played by the portal, the approver's session and the DSI's session"
  )
  func hardwareThenSoftware() async throws {
    try await withAcademy { daemon, client in
      let portal = TestCaller.portal(client, for: "ens-clg")
      let principal = try await TestCaller.session(client, "principal1")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let support = try await TestCaller.session(client, "helpdesk1")

      // The DSI prepares a charter and a pickup place with slots.
      let charter = try await dsi.operations.publishCharter(
        .with {
          $0.version = "2026-09"
          $0.text = "I keep my key for myself."
          $0.code = "4821"
        }, metadata: dsi.metadata
      ).charter
      let tomorrow = Date().addingTimeInterval(86_400)
      let published = try await dsi.operations.publishPickupSlots(
        .with {
          $0.place = .with {
            $0.placeID = "rectorat-dsi"
            $0.name = "Rectorat, DSI"
            $0.address = "24 avenue de la Victoire"
          }
          $0.slots = [
            .with {
              $0.startsAt = Google_Protobuf_Timestamp(date: tomorrow)
              $0.endsAt = Google_Protobuf_Timestamp(date: tomorrow.addingTimeInterval(1800))
              $0.capacity = 2
            }
          ]
        }, metadata: dsi.metadata)

      // Hardware key.
      var renewal = try await portal.startAndSubmit(.hardware, motif: .lost, kind: "loss-declaration")
      #expect(renewal.status == .pendingApproval)
      #expect(renewal.routing.n1.person.uid == "principal1")
      let pending = try await principal.approvals.listPendingApprovals(.init(), metadata: principal.metadata).renewals
      #expect(pending.map(\.requestID) == [renewal.requestID])
      renewal = try await principal.approvals.approve(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: principal.metadata
      ).renewal
      #expect(renewal.status == .awaitingCharter)
      let shown = try await portal.renewals.getCharter(.init(), metadata: portal.metadata).charter
      #expect(shown.footer.contains("4821"))
      #expect(shown.version == charter.version)
      renewal = try await portal.renewals.signCharter(
        .with {
          $0.requestID = renewal.requestID
          $0.charterCode = "4821"
          $0.acknowledged = true
          $0.expectedVersion = renewal.version
        }, metadata: portal.metadata
      ).renewal
      #expect(renewal.status == .awaitingDsi)
      let work = try await dsi.operations.listWork(.init(), metadata: dsi.metadata).renewals
      #expect(work.map(\.requestID).contains(renewal.requestID))
      renewal = try await dsi.operations.finalize(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
          $0.newKeySerial = "HW-0001"
          $0.pickupPlaceID = "rectorat-dsi"
        }, metadata: dsi.metadata
      ).renewal
      #expect(renewal.status == .readyForPickup)
      #expect(renewal.pickupPlace.name == "Rectorat, DSI")
      let slots = try await portal.renewals.listPickupSlots(
        .with { $0.requestID = renewal.requestID }, metadata: portal.metadata)
      #expect(slots.slots.map(\.slotID) == published.slots.map(\.slotID))
      renewal = try await portal.renewals.bookPickup(
        .with {
          $0.requestID = renewal.requestID
          $0.slotID = slots.slots[0].slotID
          $0.expectedVersion = renewal.version
        }, metadata: portal.metadata
      ).renewal
      #expect(renewal.status == .pickupBooked)
      #expect(renewal.appointment.slot.booked == 1)
      renewal = try await dsi.operations.recordHandover(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: dsi.metadata
      ).renewal
      #expect(renewal.status == .completed)

      // Software key for the same agent: the hardware key is replaced.
      var software = try await portal.startAndSubmit(.software, motif: .typeChange)
      software = try await principal.approvals.approve(
        .with {
          $0.requestID = software.requestID
          $0.expectedVersion = software.version
        }, metadata: principal.metadata
      ).renewal
      #expect(software.status == .awaitingEnrolment)
      let (instructions, completed) = try await completeSoftwareKey(
        software, agent: portal, dsi: dsi, charterCode: "4821", serial: "SW-0002")
      software = completed
      #expect(instructions.dsiMailbox == daemon.configuration.dsiMailbox)
      #expect(!instructions.steps.isEmpty)
      #expect(software.status == .completed)

      let keys = try await support.support.listKeys(.with { $0.uid = "ens-clg" }, metadata: support.metadata).keys
      #expect(keys.first { $0.serial == "SW-0002" }?.status == .active)
      // A phone key does not replace the hardware token: each type is replaced by its own kind.
      #expect(keys.first { $0.serial == "HW-0001" }?.status == .active)
      let history = try await support.support.getRenewal(
        .with { $0.requestID = software.requestID }, metadata: support.metadata
      ).renewal.history
      #expect(
        history.map(\.action) == [
          "start", "add-document", "submit", "approve", "choose-platform", "confirm-enrolment", "sign-charter",
          "finalize",
        ])
      #expect(history.first?.actor == "portal")
      #expect(history.first?.onBehalfOf == "ens-clg")
      let audit = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
      #expect(audit.intact)
    }
  }

  @Test("the N+2 approves while the N+1 does nothing")
  func approvalByN2() async throws {
    try await withAcademy { _, client in
      let agent = try await TestCaller.session(client, "ens-lyc")
      let n2 = try await TestCaller.session(client, "dasen974")
      let renewal = try await agent.startAndSubmit(.hardware)
      #expect(renewal.routing.n1.person.uid == "adjoint2")
      #expect(renewal.routing.n2.person.uid == "dasen974")
      let approved = try await n2.approvals.approve(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: n2.metadata
      ).renewal
      #expect(approved.status == .awaitingCharter)
      #expect(approved.decidedBy == "dasen974")
    }
  }

  @Test("a school director and an ONDE delegate are validated automatically", arguments: ["dir1", "ens2a"])
  func autoValidated(uid: String) async throws {
    try await withAcademy { _, client in
      let agent = TestCaller.portal(client, for: uid)
      let renewal = try await agent.startAndSubmit(.software)
      #expect(renewal.status == .awaitingEnrolment)
      #expect(renewal.decidedBy == "auto")
      #expect(renewal.routing.autoValidated)
      let ien = try await TestCaller.session(client, "ien1")
      #expect(try await ien.approvals.listPendingApprovals(.init(), metadata: ien.metadata).renewals.isEmpty)
    }
  }

  @Test(
    "a request without documents stays invisible to its validator until documents are added and it is submitted again")
  func documentsLater() async throws {
    try await withAcademy { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let ien = try await TestCaller.session(client, "ien1")
      var renewal = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .stolen
        }, metadata: agent.metadata
      ).renewal
      let first = try await agent.renewals.submitRenewal(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: agent.metadata)
      #expect(first.routed == false)
      #expect(first.renewal.status == .awaitingDocuments)
      #expect(first.renewal.missingDocumentKinds == ["theft-report"])
      #expect(try await ien.approvals.listPendingApprovals(.init(), metadata: ien.metadata).renewals.isEmpty)
      #expect(await failure { _ = try await ien.get(renewal.requestID) }?.code == .permissionDenied)
      renewal = try await agent.renewals.addDocument(
        .with {
          $0.requestID = renewal.requestID
          $0.filename = "plainte.pdf"
          $0.kind = "theft-report"
          $0.content = pdfBytes
          $0.expectedVersion = first.renewal.version
        }, metadata: agent.metadata
      ).renewal
      let second = try await agent.renewals.submitRenewal(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: agent.metadata)
      #expect(second.routed)
      #expect(
        try await ien.approvals.listPendingApprovals(.init(), metadata: ien.metadata).renewals.map(\.requestID) == [
          renewal.requestID
        ])
    }
  }

  @Test("WatchRenewal streams each status change and ends at a terminal status", .timeLimit(.minutes(1)))
  func watch() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1b")
      let ien = try await TestCaller.session(client, "ien1")
      let renewal = try await agent.startAndSubmit(.software)
      let statuses = try await agent.renewals.watchRenewal(
        .with { $0.requestID = renewal.requestID }, metadata: agent.metadata
      ) { response in
        var seen: [Okey_V1_RenewalStatus] = []
        for try await message in response.messages {
          seen.append(message.renewal.status)
          if seen.count == 1 {
            _ = try await ien.approvals.reject(
              .with {
                $0.requestID = renewal.requestID
                $0.reason = "a software key is not allowed for this post"
                $0.expectedVersion = renewal.version
              }, metadata: ien.metadata)
          }
        }
        return seen
      }
      #expect(statuses == [.pendingApproval, .rejected])
      #expect(daemon.watchSubscriptionCount == 0)
    }
  }

  @Test("clients that drop mid-stream leave no Watch subscription behind", .timeLimit(.minutes(1)))
  func watchLeak() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1b")
      let renewal = try await agent.startAndSubmit(.software)
      let watchers = (0..<10).map { _ in
        Task {
          try await agent.renewals.watchRenewal(.with { $0.requestID = renewal.requestID }, metadata: agent.metadata) {
            response in
            for try await _ in response.messages {}
          }
        }
      }
      let clock = ContinuousClock()
      var deadline = clock.now + .seconds(10)
      while daemon.watchSubscriptionCount < 10, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
      #expect(daemon.watchSubscriptionCount == 10)
      for watcher in watchers { watcher.cancel() }
      deadline = clock.now + .seconds(10)
      while daemon.watchSubscriptionCount > 0, clock.now < deadline { try await Task.sleep(for: .milliseconds(10)) }
      #expect(daemon.watchSubscriptionCount == 0)
    }
  }

  @Test("retrying start or submit with the same idempotency key returns the first result")
  func idempotency() async throws {
    try await withAcademy { _, client in
      let agent = TestCaller.portal(client, for: "ens1b")
      let request = Okey_V1_StartRenewalRequest.with {
        $0.keyType = .hardware
        $0.motif = .broken
        $0.idempotencyKey = "portal-click-42"
      }
      let first = try await agent.renewals.startRenewal(request, metadata: agent.metadata).renewal
      let again = try await agent.renewals.startRenewal(request, metadata: agent.metadata).renewal
      #expect(again.requestID == first.requestID)
      let other = await failure {
        _ = try await agent.renewals.startRenewal(
          .with {
            $0.keyType = .hardware
            $0.motif = .broken
          }, metadata: agent.metadata)
      }
      #expect(other?.code == .alreadyExists)
      #expect(other?.reason == "OPEN_REQUEST_EXISTS")
    }
  }
}
