import Foundation
import GRPCCore
import OKeyAPI
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

/// Hand-over at the establishment (issue 23, point 2): a second-degree agent's hardware key is sent
/// to their establishment at finalisation and handed over by its head or a deputy, as the directory
/// shows them at that moment; no appointment.
@Suite("hand-over at the establishment", .serialized)
struct HandoverTests {
  /// Walks `agent`'s hardware request, approved by `approver`, to AWAITING_DSI.
  static func approvedAndSigned(agent: TestCaller, approver: TestCaller, dsi: TestCaller) async throws
    -> Okey_V1_Renewal
  {
    try await dsi.publishCharter(version: "2026-12", code: "CLEF2026")
    let renewal = try await agent.startAndSubmit(.hardware)
    let approved = try await approver.approvals.approve(
      .with {
        $0.requestID = renewal.requestID
        $0.expectedVersion = renewal.version
      }, metadata: approver.metadata
    ).renewal
    return try await agent.renewals.signCharter(
      .with {
        $0.requestID = renewal.requestID
        $0.charterCode = "CLEF2026"
        $0.acknowledged = true
        $0.expectedVersion = approved.version
      }, metadata: agent.metadata
    ).renewal
  }

  static func finalize(_ renewal: Okey_V1_Renewal, by dsi: TestCaller, place: String = "") async throws
    -> Okey_V1_Renewal
  {
    try await dsi.operations.finalize(
      .with {
        $0.requestID = renewal.requestID
        $0.expectedVersion = renewal.version
        $0.newKeySerial = "HW-\(renewal.requestID.prefix(8))"
        $0.pickupPlaceID = place
      }, metadata: dsi.metadata
    ).renewal
  }

  @Test(
    "a collège teacher's key goes to the collège: no appointment; a deputy of another establishment and the agent are refused; the collège's deputy hands it over"
  )
  func atTheEstablishment() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens-clg")
      let principal = try await TestCaller.session(client, "principal1")
      let deputy = try await TestCaller.session(client, "adjoint1")
      let otherDeputy = try await TestCaller.session(client, "adjoint2")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let signed = try await Self.approvedAndSigned(agent: agent, approver: principal, dsi: dsi)

      // Finalised without a place: the key goes to the agent's collège.
      let ready = try await Self.finalize(signed, by: dsi)
      #expect(ready.status == .readyForPickup)
      #expect(ready.handoverEstablishment == "9740100K")
      #expect(!ready.hasPickupPlace)
      let told = try await daemon.application.store.outboxMessages(renewalID: ready.requestID).filter {
        $0.kind == .agentReadyAtEstablishment
      }
      #expect(told.map { $0.recipient?.uid } == ["ens-clg"])
      let heads = try await daemon.application.store.outboxMessages(renewalID: ready.requestID).filter {
        $0.kind == .keyToHandOver
      }
      #expect(
        Set(heads.compactMap { $0.recipient?.uid }) == ["principal1", "adjoint1"], "the collège's heads are told")

      // No appointment on this path.
      let slots = await failure {
        _ = try await agent.renewals.listPickupSlots(.with { $0.requestID = ready.requestID }, metadata: agent.metadata)
      }
      #expect(slots?.reason == "SLOT_ELSEWHERE")
      let tomorrow = Date().addingTimeInterval(86_400)
      let slot = try #require(
        try await dsi.operations.publishPickupSlots(
          .with {
            $0.place = .with {
              $0.placeID = "rectorat-dsi"
              $0.name = "Rectorat, DSI"
            }
            $0.slots = [
              .with {
                $0.startsAt = Google_Protobuf_Timestamp(date: tomorrow)
                $0.endsAt = Google_Protobuf_Timestamp(date: tomorrow.addingTimeInterval(1800))
                $0.capacity = 2
              }
            ]
          }, metadata: dsi.metadata
        ).slots.first)
      do {
        _ = try await agent.renewals.bookPickup(
          .with {
            $0.requestID = ready.requestID
            $0.slotID = slot.slotID
            $0.expectedVersion = ready.version
          }, metadata: agent.metadata)
        Issue.record("a key at the establishment was booked a slot")
      } catch let error as RPCError {
        #expect(error.code == .failedPrecondition)
        #expect(error.message.contains("collect it from the head of establishment"), "\(error.message)")
      }

      // Who heads what, as the principal's session reads it.
      let me = try await deputy.auth.whoAmI(.init(), metadata: deputy.metadata).principal
      #expect(me.roles.contains(.establishmentHead) && me.headedEstablishments == ["9740100K"])
      let teacher = try await agent.auth.whoAmI(.init(), metadata: agent.metadata).principal
      #expect(!teacher.roles.contains(.establishmentHead) && teacher.headedEstablishments.isEmpty)
      // The heads of the collège see it; a deputy of the lycée does not, and may not hand it over.
      for head in [principal, deputy] {
        let waiting = try await head.approvals.listKeysToHandOver(.init(), metadata: head.metadata).renewals
        #expect(waiting.map(\.requestID) == [ready.requestID], "\(head.name)")
      }
      #expect(
        try await otherDeputy.approvals.listKeysToHandOver(.init(), metadata: otherDeputy.metadata).renewals.isEmpty)
      for intruder in [otherDeputy, agent] {
        let refused = await failure {
          _ = try await intruder.approvals.handOverKey(
            .with {
              $0.requestID = ready.requestID
              $0.expectedVersion = ready.version
            }, metadata: intruder.metadata)
        }
        #expect(refused?.code == .permissionDenied, "\(intruder.name)")
        #expect(refused?.reason == "NOT_ESTABLISHMENT_HEAD", "\(intruder.name)")
      }
      #expect(try await agent.get(ready.requestID).version == ready.version)

      // The deputy hands it over: the key is active, the trail says who and where.
      let done = try await deputy.approvals.handOverKey(
        .with {
          $0.requestID = ready.requestID
          $0.expectedVersion = ready.version
          $0.comment = "remise en main propre"
        }, metadata: deputy.metadata
      ).renewal
      #expect(done.status == .completed)
      let history = try await agent.get(ready.requestID).history
      let handover = history.last { $0.action == "record-handover" }
      #expect(handover?.details == "handed over at 9740100K by the deputy adjoint1: remise en main propre")
      #expect(handover?.role == .establishmentHead)
      #expect(handover?.actor == "adjoint1")
      let keys = try await daemon.application.store.keys(agentUID: "ens-clg")
      #expect(keys.contains { $0.serial == done.newKeySerial && $0.status == .active })
      #expect(try await principal.approvals.listKeysToHandOver(.init(), metadata: principal.metadata).renewals.isEmpty)
    }
  }

  @Test(
    "who heads the establishment is read in the directory at the hand-over: a principal who lost the post is refused; the DSI may always record it"
  )
  func directoryAtHandover() async throws {
    try await withAcademy { _, client, slapd in
      let agent = try await TestCaller.session(client, "ens-clg")
      let principal = try await TestCaller.session(client, "principal1")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let ready = try await Self.finalize(
        try await Self.approvedAndSigned(agent: agent, approver: principal, dsi: dsi), by: dsi)
      #expect(ready.handoverEstablishment == "9740100K")
      // The principal leaves the collège's head post in the directory.
      try await slapd.modify(
        """
        dn: uid=principal1,ou=people,dc=ac-test,dc=fr
        changetype: modify
        delete: FrEduRneResp

        """)
      let refused = await failure {
        _ = try await principal.approvals.handOverKey(
          .with {
            $0.requestID = ready.requestID
            $0.expectedVersion = ready.version
          }, metadata: principal.metadata)
      }
      #expect(refused?.reason == "NOT_ESTABLISHMENT_HEAD")
      #expect(try await principal.approvals.listKeysToHandOver(.init(), metadata: principal.metadata).renewals.isEmpty)
      let done = try await dsi.operations.recordHandover(
        .with {
          $0.requestID = ready.requestID
          $0.expectedVersion = ready.version
        }, metadata: dsi.metadata
      ).renewal
      #expect(done.status == .completed)
    }
  }

  @Test(
    "other agents keep the DSI place: a first-degree key needs a place, a head cannot hand a DSI-place key over, and an empty handover.establishmentTypes sends every key to a place"
  )
  func otherAgentsKeepThePlace() async throws {
    try await withAcademy(configure: { $0.handover.establishmentTypes = [] }) { _, client in
      let agent = try await TestCaller.session(client, "ens-clg")
      let principal = try await TestCaller.session(client, "principal1")
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let signed = try await Self.approvedAndSigned(agent: agent, approver: principal, dsi: dsi)
      let noPlace = await failure { _ = try await Self.finalize(signed, by: dsi) }
      #expect(noPlace?.code == .invalidArgument)
      _ = try await dsi.operations.publishPickupSlots(
        .with {
          $0.place = .with {
            $0.placeID = "rectorat-dsi"
            $0.name = "Rectorat, DSI"
            $0.address = "24 avenue Georges Brassens"
          }
        }, metadata: dsi.metadata)
      let ready = try await Self.finalize(signed, by: dsi, place: "rectorat-dsi")
      #expect(ready.handoverEstablishment.isEmpty)
      #expect(ready.pickupPlace.placeID == "rectorat-dsi")
      let refused = await failure {
        _ = try await principal.approvals.handOverKey(
          .with {
            $0.requestID = ready.requestID
            $0.expectedVersion = ready.version
          }, metadata: principal.metadata)
      }
      #expect(refused?.code == .permissionDenied)
    }
  }
}
