import Foundation
import GRPCCore
import OKeyAPI
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

@Suite("the key inventory: keys from before OKEY, the key a renewal replaces, suspension of a lost key")
struct KeyInventoryServerTests {
  static func imported(_ serial: String, _ type: Okey_V1_KeyType, _ uid: String) -> Okey_V1_ImportedKey {
    .with {
      $0.serial = serial
      $0.keyType = type
      $0.uid = uid
      $0.activatedAt = .init(timeIntervalSince1970: 1_725_148_800)
    }
  }

  @Test(
    "a token and a phone imported; a LOST phone key asks the DSI at routing to suspend the old phone key by serial; completion replaces the phone key, never the token"
  )
  func tokenAndPhone() async throws {
    try await withAcademy { daemon, client in
      let dsi = try await TestCaller.session(client, "dsi-op1")
      let results = try await dsi.operations.importKeys(
        .with {
          $0.keys = [
            Self.imported("HW-OLD", .hardware, "ens1a"), Self.imported("SW-OLD", .software, "ens1a"),
            Self.imported("SW-OLD", .software, "ens1a"), Self.imported("HW-OLD", .hardware, "ens1b"),
            Self.imported("X-1", .hardware, "nobody-here"), Self.imported("bad serial", .hardware, "ens1a"),
            Self.imported("Y-1", .unspecified, "ens1a"),
          ]
        }, metadata: dsi.metadata
      ).results
      #expect(
        results.map(\.outcome) == [.recorded, .recorded, .unchanged, .refused, .refused, .refused, .refused],
        "\(results)")
      #expect(results[3].reason.contains("another person"))
      #expect(results.map(\.index) == Array(0..<7))

      let portal = TestCaller.portal(client, for: "ens1a")
      var renewal = try await portal.startAndSubmit(.software, motif: .lost, kind: "loss-declaration")
      #expect(renewal.status == .pendingApproval)
      let suspension = try await daemon.application.store.outboxMessages(state: .pending, limit: 100).filter {
        $0.renewalID == renewal.requestID && $0.kind == .dsiWork && $0.details.contains("suspend")
      }
      #expect(suspension.count == 1 && suspension.first?.details.contains("SW-OLD") == true, "\(suspension)")
      #expect(suspension.first?.details.contains("HW-OLD") == false)

      // Approved, enrolled, signed, finalised.
      let n1 = try await TestCaller.session(client, "ien1")
      renewal = try await n1.approvals.approve(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: n1.metadata
      ).renewal
      _ = try await dsi.operations.publishCharter(
        .with {
          $0.version = "inv-1"
          $0.text = "Charte"
          $0.code = "7777"
        }, metadata: dsi.metadata)
      renewal = try await portal.renewals.chooseMobilePlatform(
        .with {
          $0.requestID = renewal.requestID
          $0.platform = .android
          $0.expectedVersion = renewal.version
        }, metadata: portal.metadata
      ).renewal
      renewal = try await dsi.operations.confirmEnrolmentElements(
        .with {
          $0.requestID = renewal.requestID
          $0.expectedVersion = renewal.version
        }, metadata: dsi.metadata
      ).renewal
      renewal = try await portal.renewals.signCharter(
        .with {
          $0.requestID = renewal.requestID
          $0.charterCode = "7777"
          $0.acknowledged = true
          $0.expectedVersion = renewal.version
        }, metadata: portal.metadata
      ).renewal
      // Naming a key that is not the agent's is refused.
      let wrong = await failure {
        _ = try await dsi.operations.finalize(
          .with {
            $0.requestID = renewal.requestID
            $0.newKeySerial = "SW-NEW"
            $0.replacedKeySerial = "X-1"
            $0.expectedVersion = renewal.version
          }, metadata: dsi.metadata)
      }
      #expect(wrong?.code == .invalidArgument)
      renewal = try await dsi.operations.finalize(
        .with {
          $0.requestID = renewal.requestID
          $0.newKeySerial = "SW-NEW"
          $0.expectedVersion = renewal.version
        }, metadata: dsi.metadata
      ).renewal
      #expect(renewal.status == .completed)
      let keys = try await daemon.application.store.keys(agentUID: "ens1a")
      #expect(
        Dictionary(uniqueKeysWithValues: keys.map { ($0.serial, $0.status) }) == [
          "HW-OLD": .active, "SW-OLD": .replaced, "SW-NEW": .active,
        ])
    }
  }
}
