import Foundation
import OKeyAPI
import OKeyClient
import OKeyTestSupport
import Testing

@Suite("errors as OKeyClient sees them", .serialized)
struct ErrorContractTests {
  @Test(
    "OKeyClientError carries the contract's reason, its metadata and the wrong field: OPEN_REQUEST_EXISTS names the open request, STALE_VERSION the current version, INVALID_FIELD the field"
  )
  func reasons() async throws {
    try await withSlapd { slapd in
      try await withTemporaryDirectory { folder in
        let okeyd = try await OKeydProcess(arguments: ["--config", try faultConfig(folder: folder, slapd: slapd)])
        defer { okeyd.child.send(SIGKILL) }
        let token = try await OKeyClient.with(try OKeyClientSettings(server: okeyd.address)) {
          try await $0.login(uid: "ens1a", password: SlapdFixture.personPassword).token
        }
        try await OKeyClient.with(try OKeyClientSettings(server: okeyd.address, token: token)) { okey in
          let first = try await okey.startRenewal(keyType: .software, motif: .expired)
          let again = await #expect(throws: OKeyClientError.self) {
            try await okey.startRenewal(keyType: .hardware, motif: .lost)
          }
          #expect(again?.kind == .alreadyExists)
          #expect(again?.reason == .openRequestExists)
          #expect(again?.metadata["request_id"] == first.id)

          let stale = await #expect(throws: OKeyClientError.self) {
            try await okey.addDocument(
              requestID: first.id, filename: "a.pdf", kind: "supporting-document",
              content: Data("%PDF-1.4\n%%EOF\n".utf8), expectedVersion: first.version + 5)
          }
          #expect(stale?.kind == .aborted)
          #expect(stale?.reason == .staleVersion)
          #expect(stale?.metadata["current_version"] == "\(first.version)")

          let cancelled = try await okey.cancel(requestID: first.id, expectedVersion: first.version)
          #expect(cancelled.status == .cancelled)
          let noDetails = await #expect(throws: OKeyClientError.self) {
            try await okey.startRenewal(keyType: .software, motif: .other)
          }
          #expect(noDetails?.kind == .invalidArgument)
          #expect(noDetails?.reason == .invalidField)
          #expect(noDetails?.fieldViolations.map(\.field) == ["motif_details"])
          #expect(noDetails?.metadata["field"] == "motif_details")
        }
      }
    }
  }
}
