import Foundation
import GRPCCore
import GRPCProtobuf
import OKeyAPI
import OKeyDomain
@testable import OKeyServer
import OKeyStore
import OKeyTestSupport
import SwiftProtobuf
import Testing

@Suite("the okey.v1 contract")
struct ContractTests {
  @Test("every reason the domain refuses with is a value of the contract's ErrorReason (the server's own reasons are typed as it)")
  func refusalReasons() {
    let missing = RenewalRefusal.Code.allCases.filter { Okey_V1_ErrorReason(wireName: $0.rawValue) == nil }
    #expect(missing.isEmpty, "add to Protos/okey/v1/errors.proto: \(missing.map(\.rawValue))")
    for code in RenewalRefusal.Code.allCases {
      #expect(ErrorMapping.reason(for: code).wireName == code.rawValue)
    }
  }

  @Test("the README's section on errors lists every reason of the contract")
  func readmeListsReasons() throws {
    let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
    let missing = Okey_V1_ErrorReason.allCases.filter { $0 != .unspecified && !readme.contains("`\($0.wireName)`") }
    #expect(missing.isEmpty, "README.md does not list \(missing.map(\.wireName))")
  }

  @Test("INVALID_ARGUMENT carries ErrorInfo (domain okey.v1, reason INVALID_FIELD, metadata field) and a BadRequest naming the field")
  func badRequest() async throws {
    try await withAcademy { _, client in
      let dsi = try await Caller.session(client, "dsi-op1")
      do {
        _ = try await dsi.operations.publishPickupSlots(.with {
          $0.place = .with { $0.placeID = "p"; $0.name = "P" }
          $0.slots = [.with {
            $0.startsAt = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(86_400))
            $0.endsAt = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(90_000))
            $0.capacity = 0
          }]
        }, metadata: dsi.metadata)
        Issue.record("a slot of capacity 0 was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        let details = try #require(try error.unpackGoogleRPCStatus()).details
        let info = try #require(details.compactMap(\.errorInfo).first)
        #expect(info.domain == "okey.v1")
        #expect(info.reason == "INVALID_FIELD")
        #expect(info.metadata["field"] == "slots[0].capacity")
        let violations = details.compactMap(\.badRequest).flatMap(\.violations)
        #expect(violations.map(\.field) == ["slots[0].capacity"])
        #expect(violations.first?.description.isEmpty == false)
      }
    }
  }
}
