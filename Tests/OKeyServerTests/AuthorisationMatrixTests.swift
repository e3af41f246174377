import Foundation
import GRPCCore
import OKeyAPI
import OKeyTestSupport
import SwiftProtobuf
import Testing

@Suite("authorisation matrix", .serialized)
struct AuthorisationMatrixTests {
  /// One RPC: how to call it on the target request, and who may.
  struct Case: Sendable {
    var rpc: String
    var allowed: Set<String>
    /// The code a caller outside `allowed` gets (NOT_FOUND where existence is not revealed).
    var denied: RPCError.Code = .permissionDenied
    var call: @Sendable (Caller, _ id: String, _ version: Int64) async throws -> Void
  }

  /// People through their sessions.
  static let sessions: Set<String> = ["agent", "colleague", "n1", "n2", "unrelated-manager", "dsi", "support"]
  /// Anyone who may act as an agent for themselves: sessions, and internal systems with the agent role.
  static let everyone: Set<String> = sessions.union(["portal-obo", "portal-for-n1", "portal-for-dsi", "desk-for-dsi"])
  /// Anyone authenticated, whatever their roles.
  static let anyCaller: Set<String> = everyone.union(["portal-no-obo", "approvals-for-n1", "helpdesk-tool"])
  /// DSI operators: the session, and an internal system with the dsi role acting for one.
  static let dsi: Set<String> = ["dsi", "desk-for-dsi"]
  /// Support staff: the session, and an internal system with the support role acting for one.
  static let support: Set<String> = ["support", "helpdesk-tool"]
  /// Those who may decide as validators: sessions, and internal systems with the approver role.
  static let deciders: Set<String> = sessions.union(["approvals-for-n1"])
  static let owner: Set<String> = ["agent", "portal-obo"]
  static let readers: Set<String> = ["agent", "portal-obo", "n1", "n2", "dsi", "desk-for-dsi", "approvals-for-n1"]
  /// The document id of the target request, for GetDocument.
  @TaskLocal static var documentID = ""

  static let cases: [Case] = [
    Case(rpc: "Auth.WhoAmI", allowed: anyCaller) { c, _, _ in _ = try await c.auth.whoAmI(.init(), metadata: c.metadata) },
    Case(rpc: "Renewal.StartRenewal", allowed: everyone) { c, _, _ in
      _ = try await c.renewals.startRenewal(.with { $0.keyType = .software; $0.motif = .expired }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.AddDocument", allowed: owner) { c, id, v in
      _ = try await c.renewals.addDocument(.with {
        $0.requestID = id; $0.filename = "a.pdf"; $0.kind = "supporting-document"; $0.content = pdfBytes; $0.expectedVersion = v
      }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.RemoveDocument", allowed: owner) { c, id, v in
      _ = try await c.renewals.removeDocument(.with { $0.requestID = id; $0.documentID = "missing"; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.SetValidator", allowed: owner) { c, id, v in
      _ = try await c.renewals.setValidator(.with { $0.requestID = id; $0.validatorUid = "dir1"; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.SubmitRenewal", allowed: owner) { c, id, v in
      _ = try await c.renewals.submitRenewal(.with { $0.requestID = id; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.GetRenewal", allowed: readers) { c, id, _ in _ = try await c.renewals.getRenewal(.with { $0.requestID = id }, metadata: c.metadata) },
    Case(rpc: "Renewal.ListMyRenewals", allowed: everyone) { c, _, _ in _ = try await c.renewals.listMyRenewals(.init(), metadata: c.metadata) },
    Case(rpc: "Renewal.ChooseMobilePlatform", allowed: owner) { c, id, v in
      _ = try await c.renewals.chooseMobilePlatform(.with { $0.requestID = id; $0.platform = .ios; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.GetCharter", allowed: anyCaller) { c, _, _ in
      _ = try await c.renewals.getCharter(.init(), metadata: c.metadata)
    },
    Case(rpc: "Renewal.SignCharter", allowed: owner) { c, id, v in
      _ = try await c.renewals.signCharter(.with { $0.requestID = id; $0.charterCode = "0000"; $0.acknowledged = true; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.ListPickupSlots", allowed: readers) { c, id, _ in
      _ = try await c.renewals.listPickupSlots(.with { $0.requestID = id }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.BookPickup", allowed: owner) { c, id, v in
      _ = try await c.renewals.bookPickup(.with { $0.requestID = id; $0.slotID = "nope"; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.WatchRenewal", allowed: readers) { c, id, _ in
      try await c.renewals.watchRenewal(.with { $0.requestID = id }, metadata: c.metadata) { response in
        for try await _ in response.messages { break }
      }
    },
    Case(rpc: "Renewal.GetDocument", allowed: readers.union(support).union(dsi), denied: .notFound) { c, id, _ in
      _ = try await c.renewals.getDocument(.with { $0.requestID = id; $0.documentID = documentID }, metadata: c.metadata)
    },
    Case(rpc: "Approval.ListPendingApprovals", allowed: deciders) { c, _, _ in
      _ = try await c.approvals.listPendingApprovals(.init(), metadata: c.metadata)
    },
    Case(rpc: "Operations.ListWork", allowed: dsi) { c, _, _ in _ = try await c.operations.listWork(.init(), metadata: c.metadata) },
    Case(rpc: "Operations.ConfirmEnrolmentElements", allowed: dsi) { c, id, v in
      _ = try await c.operations.confirmEnrolmentElements(.with { $0.requestID = id; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Operations.Finalize", allowed: dsi) { c, id, v in
      _ = try await c.operations.finalize(.with { $0.requestID = id; $0.newKeySerial = "X1"; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Operations.PublishPickupSlots", allowed: dsi) { c, _, _ in
      _ = try await c.operations.publishPickupSlots(.with { $0.place = .with { $0.placeID = "matrix"; $0.name = "Matrix" } }, metadata: c.metadata)
    },
    Case(rpc: "Operations.RecordHandover", allowed: dsi) { c, id, v in
      _ = try await c.operations.recordHandover(.with { $0.requestID = id; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Operations.PublishCharter", allowed: dsi) { c, _, _ in
      _ = try await c.operations.publishCharter(.with { $0.version = "m-\(UInt32.random(in: 0...UInt32.max))"; $0.text = "t"; $0.code = "1234" }, metadata: c.metadata)
    },
    Case(rpc: "Operations.Reroute", allowed: dsi) { c, id, v in
      _ = try await c.operations.reroute(.with { $0.requestID = id; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Support.SearchRenewals", allowed: support) { c, _, _ in _ = try await c.support.searchRenewals(.init(), metadata: c.metadata) },
    Case(rpc: "Support.GetRenewal", allowed: support) { c, id, _ in _ = try await c.support.getRenewal(.with { $0.requestID = id }, metadata: c.metadata) },
    Case(rpc: "Support.ResolveRouting", allowed: support) { c, _, _ in
      _ = try await c.support.resolveRouting(.with { $0.uid = "ens1a" }, metadata: c.metadata)
    },
    Case(rpc: "Support.ListKeys", allowed: support) { c, _, _ in _ = try await c.support.listKeys(.with { $0.uid = "ens1a" }, metadata: c.metadata) },
    Case(rpc: "Support.VerifyAuditTrail", allowed: support) { c, _, _ in _ = try await c.support.verifyAuditTrail(.init(), metadata: c.metadata) },
    Case(rpc: "Support.ListOutbox", allowed: support) { c, _, _ in _ = try await c.support.listOutbox(.init(), metadata: c.metadata) },
    Case(rpc: "Support.GetAuditHead", allowed: support) { c, _, _ in _ = try await c.support.getAuditHead(.init(), metadata: c.metadata) },
    Case(rpc: "Support.Stats", allowed: support) { c, _, _ in _ = try await c.support.stats(.init(), metadata: c.metadata) },
    // Deciding last: the request then leaves PENDING_APPROVAL.
    Case(rpc: "Approval.Reject", allowed: ["n1", "n2", "approvals-for-n1"]) { c, id, v in
      _ = try await c.approvals.reject(.with { $0.requestID = id; $0.reason = "matrix"; $0.expectedVersion = v + 1000 }, metadata: c.metadata)
    },
    Case(rpc: "Approval.Approve", allowed: ["n1", "n2", "approvals-for-n1"]) { c, id, v in
      _ = try await c.approvals.approve(.with { $0.requestID = id; $0.expectedVersion = v }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.CancelRenewal", allowed: owner) { c, id, v in
      _ = try await c.renewals.cancelRenewal(.with { $0.requestID = id; $0.expectedVersion = v }, metadata: c.metadata)
    },
    // Last: it ends the sessions the other cases use (a service account gets NOT_A_SESSION).
    Case(rpc: "Auth.Logout", allowed: anyCaller) { c, _, _ in _ = try await c.auth.logout(.init(), metadata: c.metadata) },
  ]

  @Test("every RPC against anonymous, the agent, a colleague, N+1, N+2, an unrelated manager, DSI, support, a disabled person, and service accounts with each scope, with and without on-behalf-of")
  func matrix() async throws {
    try await withAcademy { _, client in
      let callers: [Caller] = [
        .anonymous(client),
        try await Caller.session(client, "ens1a").renamed("agent"),
        Caller.portal(client, for: "ens1a").renamed("portal-obo"),
        Caller.portal(client, for: nil).renamed("portal-no-obo"),
        try await Caller.session(client, "ens1b").renamed("colleague"),
        try await Caller.session(client, "ien1").renamed("n1"),
        try await Caller.session(client, "dasen974").renamed("n2"),
        try await Caller.session(client, "principal1").renamed("unrelated-manager"),
        try await Caller.session(client, "dsi-op1").renamed("dsi"),
        try await Caller.session(client, "helpdesk1").renamed("support"),
        Caller.portal(client, for: "ien1").renamed("portal-for-n1"),
        Caller.portal(client, for: "dsi-op1").renamed("portal-for-dsi"),
        Caller.portal(client, for: "ien1", key: approvalsKey).renamed("approvals-for-n1"),
        Caller.portal(client, for: "disabled-boss").renamed("disabled"),
        Caller.portal(client, for: "dsi-op1", key: deskKey).renamed("desk-for-dsi"),
        Caller.portal(client, for: "helpdesk1", key: helpdeskKey).renamed("helpdesk-tool"),
        Caller(client, name: "forged-obo", metadata: ["authorization": "Bearer forged-token", "x-okey-on-behalf-of": "ens1a"]),
      ]
      // Its own session: the Logout case ends the callers' sessions.
      let support = try await Caller.session(client, "helpdesk1")
      let agent = callers.first { $0.name == "agent" }!
      let target = try await agent.startAndSubmit(.software)
      #expect(target.status == .pendingApproval)
      #expect(Set(Self.cases.map(\.rpc)).count == 35)
      let documentID = try #require(target.documents.first?.documentID)

      var mismatches: [String] = []
      for rpcCase in Self.cases {
        for caller in callers {
          let version = try await support.support.getRenewal(.with { $0.requestID = target.requestID }, metadata: support.metadata).renewal.version
          let outcome = await Self.$documentID.withValue(documentID) { await failure { try await rpcCase.call(caller, target.requestID, version) } }
          let code = outcome?.code
          let allowed = rpcCase.allowed.contains(caller.name)
          let ok: Bool
          if allowed {
            ok = code != .unauthenticated && code != .permissionDenied
          } else if caller.name == "anonymous" || caller.name == "forged-obo" {
            // A credential that is not valid is UNAUTHENTICATED, whatever else the call carries.
            ok = code == .unauthenticated
          } else if caller.name == "disabled" || caller.name == "portal-no-obo" {
            ok = code == .permissionDenied
          } else {
            ok = code == rpcCase.denied
          }
          if !ok { mismatches.append("\(rpcCase.rpc) by \(caller.name): \(allowed ? "allowed" : "denied") expected, got \(code.map { "\($0)" } ?? "OK") \(outcome?.reason ?? "")") }
        }
      }
      #expect(mismatches.isEmpty, "\(mismatches.joined(separator: "\n"))")
    }
  }
}

extension AuthorisationMatrixTests {
  /// The matrix as the README shows it: one line per RPC, the callers allowed.
  static var readmeTable: String {
    var lines = ["| RPC | callers allowed (every other caller is refused) |", "|---|---|"]
    for rpcCase in cases {
      lines.append("| `\(rpcCase.rpc)` | \(rpcCase.allowed.sorted().joined(separator: ", ")) |")
    }
    return lines.joined(separator: "\n")
  }

  @Test("the README's authorisation table is the matrix this suite plays, line for line")
  func readme() throws {
    let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
    #expect(readme.contains(Self.readmeTable), "README.md must hold this table (paste it):\n\(Self.readmeTable)")
  }

  @Test("a DSI operator is refused every operation on their own request (OWN_REQUEST), whatever its state")
  func dsiOnOwnRequest() async throws {
    try await withAcademy { _, client in
      let operatorSelf = try await Caller.session(client, "dsi-op1")
      let own = try await operatorSelf.startAndSubmit(.software)
      let operations = Self.cases.filter { $0.rpc.hasPrefix("Operations.") && !["Operations.ListWork", "Operations.PublishPickupSlots", "Operations.PublishCharter"].contains($0.rpc) }
      #expect(operations.map(\.rpc).sorted() == ["Operations.ConfirmEnrolmentElements", "Operations.Finalize", "Operations.RecordHandover", "Operations.Reroute"])
      for operation in operations {
        let outcome = await failure { try await operation.call(operatorSelf, own.requestID, own.version) }
        #expect(outcome?.code == .permissionDenied, "\(operation.rpc)")
        #expect(outcome?.reason == "OWN_REQUEST", "\(operation.rpc)")
      }
      #expect(try await operatorSelf.get(own.requestID).version == own.version)
    }
  }
}

extension Caller {
  func renamed(_ name: String) -> Caller {
    var copy = self
    copy.name = name
    return copy
  }
}
