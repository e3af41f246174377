import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import SwiftProtobuf
import Testing

@Suite("authorisation matrix", .serialized)
struct AuthorisationMatrixTests {
  /// One RPC: the state its target request must be in, how to call it, and who may.
  struct Case: Sendable {
    var rpc: String
    var allowed: Set<String>
    /// The state of the fresh request the call acts on.
    var stage: Stage = .none
    /// The code a person outside `allowed` gets (NOT_FOUND where existence is not revealed).
    var denied: RPCError.Code = .permissionDenied
    /// The ErrorInfo reason that goes with `denied`.
    var deniedReason: String
    /// The role an internal system needs for it (SCOPE_NOT_GRANTED without), when one does.
    var scope: String? = nil
    /// The reason the request's own agent gets, when it differs.
    var ownerReason: String? = nil
    /// False for the calls that need no person behind an internal system (Logout).
    var needsPerson = true
    var call: @Sendable (TestCaller, Target) async throws -> Void
  }

  /// What a call acts on: the agent's request prepared for it, and what the DSI published.
  struct Target: Sendable {
    var id = ""
    var version: Int64 = 0
    var documentID = ""
    var slotID = ""
    /// The idempotency key mutating calls send (empty: none).
    var key = ""
  }

  /// The state a case needs its target request in (the agent's request, ens1a's).
  enum Stage: Sendable, Equatable {
    /// No request: the agent has nothing open.
    case none
    /// Started, one document added, not submitted.
    case draft
    case pendingApproval
    /// Software, approved, no platform chosen.
    case awaitingEnrolment
    /// Software, platform chosen, elements not confirmed.
    case platformChosen
    /// Hardware, approved.
    case awaitingCharter
    /// Software, charter signed.
    case awaitingDSI
    /// Hardware, finalised at the matrix's pickup place.
    case readyForPickup
    case pickupBooked
    /// Software, platform chosen, an enrolment code attached (enrolment.mode: qr).
    case codeAttached
    /// Software, the enrolment code read by the agent (enrolment.mode: qr).
    case codeRead
    /// Hardware, of the lycée teacher ens-lyc (not ens1a): finalised to the lycée, whose deputy
    /// (adjoint2) hands it over.
    case atEstablishment
    /// Software, motif PHONE_CHANGED, completed, not yet released by the DSI (AllowPhoneChange).
    case phoneChangeCompleted
  }

  /// The roles of the internal systems among the callers (their service accounts' `roles`).
  static let serviceRoles: [String: Set<String>] = [
    "portal-obo": ["agent"], "portal-for-n1": ["agent"], "portal-for-dsi": ["agent"], "portal-no-obo": ["agent"],
    "disabled": ["agent"],
    "approvals-for-n1": ["approver"], "approvals-for-head": ["approver"], "desk-for-dsi": ["agent", "dsi"],
    "helpdesk-tool": ["support"],
  ]

  /// The code and reason a caller outside a case's `allowed` gets, in the order okeyd checks.
  static func denial(of rpcCase: Case, to caller: String) -> (code: RPCError.Code, reason: String) {
    switch caller {
    case "anonymous": return (.unauthenticated, "TOKEN_MISSING")
    // A credential that is not valid is UNAUTHENTICATED, whatever else the call carries.
    case "forged-obo": return (.unauthenticated, "TOKEN_INVALID")
    case "logged-out": return (.unauthenticated, "TOKEN_INVALID")
    case "disabled": return (.permissionDenied, "PERSON_DISABLED")
    case "portal-no-obo" where rpcCase.needsPerson: return (.permissionDenied, "ON_BEHALF_OF_REQUIRED")
    default: break
    }
    if let scope = rpcCase.scope, let roles = serviceRoles[caller], !roles.contains(scope) {
      return (.permissionDenied, "SCOPE_NOT_GRANTED")
    }
    if let ownerReason = rpcCase.ownerReason, owner.contains(caller) { return (.permissionDenied, ownerReason) }
    return (rpcCase.denied, rpcCase.deniedReason)
  }

  /// People through their sessions.
  static let sessions: Set<String> = [
    "agent", "colleague", "n1", "n2", "unrelated-manager", "head", "dsi", "support",
  ]
  /// Anyone who may act as an agent for themselves: sessions, and internal systems with the agent role.
  static let everyone: Set<String> = sessions.union(["portal-obo", "portal-for-n1", "portal-for-dsi", "desk-for-dsi"])
  /// Anyone authenticated, whatever their roles.
  static let anyCaller: Set<String> = everyone.union([
    "portal-no-obo", "approvals-for-n1", "approvals-for-head", "helpdesk-tool",
  ])
  /// DSI operators: the session, and an internal system with the dsi role acting for one.
  static let dsi: Set<String> = ["dsi", "desk-for-dsi"]
  /// Support staff: the session, and an internal system with the support role acting for one.
  static let support: Set<String> = ["support", "helpdesk-tool"]
  /// Those who may decide as validators: sessions, and internal systems with the approver role.
  static let deciders: Set<String> = sessions.union(["approvals-for-n1", "approvals-for-head"])
  static let owner: Set<String> = ["agent", "portal-obo"]
  static let readers: Set<String> = ["agent", "portal-obo", "n1", "n2", "dsi", "desk-for-dsi", "approvals-for-n1"]
  /// The charter code the matrix publishes.
  static let charterCode = "5555"
  /// The pickup place the matrix publishes.
  static let placeID = "matrix"

  /// The RPCs of the token by QR code, played in an academy with `enrolment.mode: qr`.
  static let qrCases: [Case] = [
    Case(rpc: "Operations.AttachEnrolmentCode", allowed: dsi, stage: .platformChosen, deniedReason: "NOT_DSI") {
      c, t in
      _ = try await c.operations.attachEnrolmentCode(
        .with {
          $0.requestID = t.id
          $0.payload = "otpauth://totp/ac-test:ens1a?secret=MATRIXMATRIXMATRIX"
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.GetEnrolmentCode", allowed: owner, stage: .codeAttached, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.getEnrolmentCode(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
        }, metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.ConfirmEnrolmentScanned", allowed: owner, stage: .codeRead, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.confirmEnrolmentScanned(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
  ]

  static let cases: [Case] = [
    Case(rpc: "Auth.WhoAmI", allowed: anyCaller, deniedReason: "") { c, _ in
      _ = try await c.auth.whoAmI(.init(), metadata: c.metadata)
    },
    // The caller's own draft, cancelled at once so that the next caller's person has none open.
    Case(rpc: "Renewal.StartRenewal", allowed: everyone, deniedReason: "", scope: "agent") { c, _ in
      let draft = try await c.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: c.metadata
      ).renewal
      _ = try await c.renewals.cancelRenewal(
        .with {
          $0.requestID = draft.requestID
          $0.expectedVersion = draft.version
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.AddDocument", allowed: owner, stage: .draft, deniedReason: "NOT_YOUR_REQUEST", scope: "agent") {
      c, t in
      _ = try await c.renewals.addDocument(
        .with {
          $0.requestID = t.id
          $0.filename = "a.pdf"
          $0.kind = "supporting-document"
          $0.content = pdfBytes
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.RemoveDocument", allowed: owner, stage: .draft, deniedReason: "NOT_YOUR_REQUEST", scope: "agent")
    { c, t in
      _ = try await c.renewals.removeDocument(
        .with {
          $0.requestID = t.id
          $0.documentID = t.documentID
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.SetValidator", allowed: owner, stage: .draft, deniedReason: "NOT_YOUR_REQUEST", scope: "agent") {
      c, t in
      _ = try await c.renewals.setValidator(
        .with {
          $0.requestID = t.id
          $0.validatorUid = "principal1"
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.SubmitRenewal", allowed: owner, stage: .draft, deniedReason: "NOT_YOUR_REQUEST", scope: "agent")
    { c, t in
      _ = try await c.renewals.submitRenewal(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.GetRenewal", allowed: readers, stage: .pendingApproval, deniedReason: "NOT_YOUR_REQUEST") {
      c, t in
      _ = try await c.renewals.getRenewal(.with { $0.requestID = t.id }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.ListMyRenewals", allowed: everyone, deniedReason: "", scope: "agent") { c, _ in
      _ = try await c.renewals.listMyRenewals(.init(), metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.ChooseMobilePlatform", allowed: owner, stage: .awaitingEnrolment, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.chooseMobilePlatform(
        .with {
          $0.requestID = t.id
          $0.platform = .ios
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.GetReasonsCatalogue", allowed: anyCaller, deniedReason: "") { c, _ in
      _ = try await c.renewals.getReasonsCatalogue(.init(), metadata: c.metadata)
    },
    Case(rpc: "Renewal.GetCharter", allowed: anyCaller, deniedReason: "") { c, _ in
      _ = try await c.renewals.getCharter(.init(), metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.SignCharter", allowed: owner, stage: .awaitingCharter, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.signCharter(
        .with {
          $0.requestID = t.id
          $0.charterCode = charterCode
          $0.acknowledged = true
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.ListPickupSlots", allowed: readers, stage: .readyForPickup, deniedReason: "NOT_YOUR_REQUEST") {
      c, t in
      _ = try await c.renewals.listPickupSlots(.with { $0.requestID = t.id }, metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.BookPickup", allowed: owner, stage: .readyForPickup, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.bookPickup(
        .with {
          $0.requestID = t.id
          $0.slotID = t.slotID
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.WatchRenewal", allowed: readers, stage: .pendingApproval, deniedReason: "NOT_YOUR_REQUEST") {
      c, t in
      try await c.renewals.watchRenewal(.with { $0.requestID = t.id }, metadata: c.metadata) { response in
        for try await _ in response.messages { break }
      }
    },
    Case(
      rpc: "Renewal.GetDocument", allowed: readers.union(support).union(dsi), stage: .pendingApproval,
      denied: .notFound, deniedReason: "NOT_FOUND"
    ) { c, t in
      _ = try await c.renewals.getDocument(
        .with {
          $0.requestID = t.id
          $0.documentID = t.documentID
        }, metadata: c.metadata)
    },
    Case(rpc: "Approval.ListPendingApprovals", allowed: deciders, deniedReason: "", scope: "approver") { c, _ in
      _ = try await c.approvals.listPendingApprovals(.init(), metadata: c.metadata)
    },
    // Anyone who may act as a validator gets the keys waiting at the establishments they head (none
    // for most); HandoverTests checks what the list holds.
    Case(rpc: "Approval.ListKeysToHandOver", allowed: deciders, deniedReason: "", scope: "approver") { c, _ in
      _ = try await c.approvals.listKeysToHandOver(.init(), metadata: c.metadata)
    },
    // The head of establishment, a new kind of caller: the lycée's deputy (adjoint2) as the directory
    // shows them, in person or through an internal system with the approver role; and the DSI.
    Case(
      rpc: "Approval.HandOverKey", allowed: ["head", "approvals-for-head", "dsi"], stage: .atEstablishment,
      deniedReason: "NOT_ESTABLISHMENT_HEAD", scope: "approver"
    ) { c, t in
      _ = try await c.approvals.handOverKey(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.ListWork", allowed: dsi, deniedReason: "NOT_DSI") { c, _ in
      _ = try await c.operations.listWork(.init(), metadata: c.metadata)
    },
    Case(rpc: "Operations.ConfirmEnrolmentElements", allowed: dsi, stage: .platformChosen, deniedReason: "NOT_DSI") {
      c, t in
      _ = try await c.operations.confirmEnrolmentElements(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.Finalize", allowed: dsi, stage: .awaitingDSI, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.finalize(
        .with {
          $0.requestID = t.id
          $0.newKeySerial = t.key.isEmpty ? "SW-\(UInt32.random(in: 0...UInt32.max))" : "SW-\(t.key)"
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.PublishPickupSlots", allowed: dsi, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.publishPickupSlots(
        .with {
          $0.place = .with {
            $0.placeID = placeID
            $0.name = "Matrix \(t.version)"
          }
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.RecordHandover", allowed: dsi, stage: .pickupBooked, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.recordHandover(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.RecordNoShow", allowed: dsi, stage: .pickupBooked, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.recordNoShow(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.AllowPhoneChange", allowed: dsi, stage: .phoneChangeCompleted, deniedReason: "NOT_DSI") {
      c, t in
      _ = try await c.operations.allowPhoneChange(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.reason = "phone stolen"
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.RequestElementsAgain", allowed: dsi, stage: .platformChosen, deniedReason: "NOT_DSI") {
      c, t in
      _ = try await c.operations.requestElementsAgain(
        .with {
          $0.requestID = t.id
          $0.message = "matrix"
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.CancelRenewal", allowed: dsi, stage: .pendingApproval, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.cancelRenewal(
        .with {
          $0.requestID = t.id
          $0.reason = "matrix"
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.MarkElementsSent", allowed: owner, stage: .platformChosen, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.markElementsSent(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(
      rpc: "Renewal.CancelPickup", allowed: owner, stage: .pickupBooked, deniedReason: "NOT_YOUR_REQUEST",
      scope: "agent"
    ) { c, t in
      _ = try await c.renewals.cancelPickup(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    // The same key twice: RECORDED by the first DSI caller, UNCHANGED after (idempotent).
    Case(rpc: "Operations.ImportKeys", allowed: dsi, deniedReason: "NOT_DSI") { c, _ in
      _ = try await c.operations.importKeys(
        .with {
          $0.keys = [
            .with {
              $0.serial = "MATRIX-IMPORTED"
              $0.keyType = .hardware
              $0.uid = "ens1b"
              $0.activatedAt = .init(timeIntervalSince1970: 1_700_000_000)
            }
          ]
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.PublishCharter", allowed: dsi, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.publishCharter(
        .with {
          $0.version = t.key.isEmpty ? "m-\(UInt32.random(in: 0...UInt32.max))" : "k-\(t.key)"
          $0.text = "t \(t.version)"
          $0.code = charterCode
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Operations.Reroute", allowed: dsi, stage: .pendingApproval, deniedReason: "NOT_DSI") { c, t in
      _ = try await c.operations.reroute(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Support.SearchRenewals", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.searchRenewals(.init(), metadata: c.metadata)
    },
    Case(rpc: "Support.GetRenewal", allowed: support, stage: .pendingApproval, deniedReason: "NOT_SUPPORT") { c, t in
      _ = try await c.support.getRenewal(.with { $0.requestID = t.id }, metadata: c.metadata)
    },
    Case(rpc: "Support.ExplainRenewal", allowed: support, stage: .pendingApproval, deniedReason: "NOT_SUPPORT") {
      c, t in
      _ = try await c.support.explainRenewal(.with { $0.requestID = t.id }, metadata: c.metadata)
    },
    Case(rpc: "Support.Report", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.report(
        .with {
          $0.from = .init(timeIntervalSince1970: 0)
          $0.to = .init(date: Date().addingTimeInterval(86_400))
        }, metadata: c.metadata)
    },
    Case(rpc: "Support.ResolveRouting", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.resolveRouting(.with { $0.uid = "ens1a" }, metadata: c.metadata)
    },
    Case(rpc: "Support.ListKeys", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.listKeys(.with { $0.uid = "ens1a" }, metadata: c.metadata)
    },
    Case(rpc: "Support.VerifyAuditTrail", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.verifyAuditTrail(.init(), metadata: c.metadata)
    },
    Case(rpc: "Support.ListOutbox", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.listOutbox(.init(), metadata: c.metadata)
    },
    Case(rpc: "Support.GetAuditHead", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.getAuditHead(.init(), metadata: c.metadata)
    },
    Case(rpc: "Support.Stats", allowed: support, deniedReason: "NOT_SUPPORT") { c, _ in
      _ = try await c.support.stats(.init(), metadata: c.metadata)
    },
    Case(
      rpc: "Approval.Reject", allowed: ["n1", "n2", "approvals-for-n1"], stage: .pendingApproval,
      deniedReason: "NOT_AN_APPROVER", scope: "approver", ownerReason: "OWN_REQUEST"
    ) { c, t in
      _ = try await c.approvals.reject(
        .with {
          $0.requestID = t.id
          $0.reason = "matrix"
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(
      rpc: "Approval.Approve", allowed: ["n1", "n2", "approvals-for-n1"], stage: .pendingApproval,
      deniedReason: "NOT_AN_APPROVER", scope: "approver", ownerReason: "OWN_REQUEST"
    ) { c, t in
      _ = try await c.approvals.approve(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    Case(rpc: "Renewal.CancelRenewal", allowed: owner, stage: .draft, deniedReason: "NOT_YOUR_REQUEST", scope: "agent")
    { c, t in
      _ = try await c.renewals.cancelRenewal(
        .with {
          $0.requestID = t.id
          $0.expectedVersion = t.version
          $0.idempotencyKey = t.key
        }, metadata: c.metadata)
    },
    // Last: it ends the sessions the other cases use. Only a session can be ended.
    Case(
      rpc: "Auth.Logout", allowed: sessions, denied: .failedPrecondition, deniedReason: "NOT_A_SESSION",
      needsPerson: false
    ) { c, _ in _ = try await c.auth.logout(.init(), metadata: c.metadata) },
  ]

  @Test(
    "every RPC against anonymous, a logged-out session, the agent, a colleague, N+1, N+2, an unrelated manager, DSI, support, a disabled person, and service accounts with each scope, with and without on-behalf-of: allowed cells succeed on a fresh request in the right state, denied cells get the exact code and reason and change nothing",
    .timeLimit(.minutes(3)))
  func matrix() async throws {
    #expect(Set((Self.cases + Self.qrCases).map(\.rpc)).count == 50)
    try await Self.play(Self.cases)
  }

  @Test(
    "the enrolment-code RPCs, in an academy with enrolment.mode: qr: the same callers, allowed cells succeed, denied cells get the exact code and reason and change nothing",
    .timeLimit(.minutes(3)))
  func qrMatrix() async throws {
    try await withTemporaryDirectory { folder in
      try await Self.play(Self.qrCases, configure: try Self.qrMode(folder))
    }
  }

  /// `enrolment.mode: qr`, its code key written in `folder`.
  static func qrMode(_ folder: String) throws -> @Sendable (inout OKeyConfiguration) -> Void {
    let keyFile = folder + "/enrolment.key"
    try String(repeating: "7e", count: 32).write(toFile: keyFile, atomically: true, encoding: .utf8)
    return {
      $0.enrolment.mode = "qr"
      $0.enrolment.codeKeyFile = keyFile
    }
  }

  /// Plays `cases` against every caller in an academy configured by `configure`.
  static func play(_ cases: [Case], configure: @escaping (inout OKeyConfiguration) -> Void = { _ in }) async throws {
    try await withAcademy(configure: configure) { _, client in
      let callers: [TestCaller] = [
        .anonymous(client),
        try await TestCaller.session(client, "ens1a").renamed("agent"),
        TestCaller.portal(client, for: "ens1a").renamed("portal-obo"),
        TestCaller.portal(client, for: nil).renamed("portal-no-obo"),
        try await TestCaller.session(client, "ens1b").renamed("colleague"),
        try await TestCaller.session(client, "ien1").renamed("n1"),
        try await TestCaller.session(client, "dasen974").renamed("n2"),
        try await TestCaller.session(client, "principal1").renamed("unrelated-manager"),
        try await TestCaller.session(client, "dsi-op1").renamed("dsi"),
        try await TestCaller.session(client, "helpdesk1").renamed("support"),
        TestCaller.portal(client, for: "ien1").renamed("portal-for-n1"),
        TestCaller.portal(client, for: "dsi-op1").renamed("portal-for-dsi"),
        TestCaller.portal(client, for: "ien1", key: approvalsKey).renamed("approvals-for-n1"),
        try await TestCaller.session(client, "adjoint2").renamed("head"),
        TestCaller.portal(client, for: "adjoint2", key: approvalsKey).renamed("approvals-for-head"),
        TestCaller.portal(client, for: "disabled-boss").renamed("disabled"),
        TestCaller.portal(client, for: "dsi-op1", key: deskKey).renamed("desk-for-dsi"),
        TestCaller.portal(client, for: "helpdesk1", key: helpdeskKey).renamed("helpdesk-tool"),
        TestCaller(
          client, name: "forged-obo",
          metadata: ["authorization": "Bearer forged-token", "x-okey-on-behalf-of": "ens1a"]),
        try await TestCaller.session(client, "ens1a").renamed("logged-out"),
      ]
      let loggedOut = callers[callers.count - 1]
      _ = try await loggedOut.auth.logout(.init(), metadata: loggedOut.metadata)
      // The preparers' own sessions: the Logout case ends the callers' ones.
      let stager = try await Stager(client)
      var mismatches: [String] = []
      for rpcCase in cases {
        var target = try await stager.prepare(rpcCase.stage)
        for caller in callers {
          let outcome = await failure { try await rpcCase.call(caller, target) }
          let expected = rpcCase.allowed.contains(caller.name) ? nil : Self.denial(of: rpcCase, to: caller.name)
          let matches = outcome?.code == expected?.code && (outcome?.reason ?? "") == (expected?.reason ?? "")
          if !matches {
            mismatches.append(
              "\(rpcCase.rpc) by \(caller.name): expected \(expected.map { "\($0.code) \($0.reason)" } ?? "OK"), got \(outcome.map { "\($0.code) \($0.reason)" } ?? "OK")"
            )
          }
          if outcome == nil, rpcCase.stage != .none {
            // It acted: the next caller gets a fresh request.
            target = try await stager.prepare(rpcCase.stage)
          } else if outcome != nil, rpcCase.stage != .none {
            let now = try await stager.version(of: target.id)
            if now != target.version {
              mismatches.append(
                "\(rpcCase.rpc) by \(caller.name): refused, yet the request went from version \(target.version) to \(now)"
              )
            }
          }
        }
      }
      #expect(mismatches.isEmpty, "\(mismatches.count) cells:\n\(mismatches.joined(separator: "\n"))")
    }
  }
}

/// Brings the agent's (ens1a's) request into the state a case needs, through the agent, the N+1
/// and a DSI operator's own sessions; anything the agent has open is first carried to its end.
struct Stager: Sendable {
  let agent: TestCaller
  let n1: TestCaller
  /// The lycée teacher whose key is handed over at the establishment, and the lycée's deputy.
  let lyceeAgent: TestCaller
  let lyceeDeputy: TestCaller
  let dsi: TestCaller
  let support: TestCaller
  let slotID: String

  init(_ client: GRPCClient<HTTP2ClientTransport.Posix>) async throws {
    agent = try await TestCaller.session(client, "ens1a")
    n1 = try await TestCaller.session(client, "ien1")
    lyceeAgent = try await TestCaller.session(client, "ens-lyc")
    lyceeDeputy = try await TestCaller.session(client, "adjoint2")
    dsi = try await TestCaller.session(client, "dsi-op1")
    support = try await TestCaller.session(client, "helpdesk1")
    _ = try await dsi.operations.publishCharter(
      .with {
        $0.version = "matrix"
        $0.text = "Je garde ma clef pour moi."
        $0.code = AuthorisationMatrixTests.charterCode
      }, metadata: dsi.metadata)
    let tomorrow = Date().addingTimeInterval(86_400)
    let published = try await dsi.operations.publishPickupSlots(
      .with {
        $0.place = .with {
          $0.placeID = AuthorisationMatrixTests.placeID
          $0.name = "Matrix"
        }
        $0.slots = [
          .with {
            $0.startsAt = Google_Protobuf_Timestamp(date: tomorrow)
            $0.endsAt = Google_Protobuf_Timestamp(date: tomorrow.addingTimeInterval(1800))
            $0.capacity = 1_000
          }
        ]
      }, metadata: dsi.metadata)
    slotID = try #require(published.slots.first?.slotID)
  }

  func version(of id: String) async throws -> Int64 {
    try await support.support.getRenewal(.with { $0.requestID = id }, metadata: support.metadata).renewal.version
  }

  func prepare(_ stage: AuthorisationMatrixTests.Stage) async throws -> AuthorisationMatrixTests.Target {
    try await closeOpenRequests(of: agent)
    try await closeOpenRequests(of: lyceeAgent)
    guard stage != .none else { return .init(slotID: slotID) }
    let agent = stage == .atEstablishment ? lyceeAgent : agent
    if stage == .phoneChangeCompleted {
      // The last completed phone change the DSI has not released yet, else a new one (which the
      // release of the previous one allows before phoneChange.minDays).
      let mine = try await agent.renewals.listMyRenewals(.init(), metadata: agent.metadata).renewals
      if let held = mine.first(where: {
        $0.status == .completed && $0.motif == .phoneChanged && !$0.hasEarlyPhoneChangeAllowedAt
      }) {
        return .init(id: held.requestID, version: held.version, slotID: slotID)
      }
    }
    let hardware = [.awaitingCharter, .readyForPickup, .pickupBooked, .atEstablishment].contains(stage)
    var renewal = try await agent.renewals.startRenewal(
      .with {
        $0.keyType = hardware ? .hardware : .software
        $0.motif = stage == .phoneChangeCompleted ? .phoneChanged : .expired
      }, metadata: agent.metadata
    ).renewal
    renewal = try await agent.renewals.addDocument(
      .with {
        $0.requestID = renewal.requestID
        $0.filename = "justificatif.pdf"
        $0.kind = "supporting-document"
        $0.content = pdfBytes
        $0.expectedVersion = renewal.version
      }, metadata: agent.metadata
    ).renewal
    let documentID = renewal.documents.first?.documentID ?? ""
    if stage != .draft { renewal = try await advance(renewal, until: stage) }
    return .init(id: renewal.requestID, version: renewal.version, documentID: documentID, slotID: slotID)
  }

  /// One step at a time along the procedure until `stage`.
  private func advance(_ start: Okey_V1_Renewal, until stage: AuthorisationMatrixTests.Stage) async throws
    -> Okey_V1_Renewal
  {
    var renewal = start
    let agent = renewal.agentUid == "ens-lyc" ? lyceeAgent : agent
    while true {
      let id = renewal.requestID
      let v = renewal.version
      switch (renewal.status, stage) {
      case (.draft, _):
        renewal = try await agent.renewals.submitRenewal(
          .with {
            $0.requestID = id
            $0.expectedVersion = v
          }, metadata: agent.metadata
        ).renewal
      case (.pendingApproval, .pendingApproval), (.awaitingEnrolment, .awaitingEnrolment),
        (.awaitingCharter, .awaitingCharter),
        (.awaitingDsi, .awaitingDSI), (.readyForPickup, .readyForPickup), (.pickupBooked, .pickupBooked),
        (.readyForPickup, .atEstablishment), (.completed, .phoneChangeCompleted):
        return renewal
      case (.awaitingEnrolment, .platformChosen) where renewal.platform != .unspecified:
        return renewal
      case (.awaitingEnrolment, .codeAttached) where renewal.hasEnrolmentCodeExpiresAt,
        (.awaitingEnrolment, .codeRead) where renewal.hasEnrolmentCodeReadAt:
        return renewal
      case (.awaitingEnrolment, .codeAttached), (.awaitingEnrolment, .codeRead):
        if renewal.platform == .unspecified {
          renewal = try await step(renewal)
        } else if renewal.hasEnrolmentCodeExpiresAt {
          renewal = try await agent.renewals.getEnrolmentCode(
            .with {
              $0.requestID = id
              $0.expectedVersion = v
            }, metadata: agent.metadata
          ).renewal
        } else {
          renewal = try await dsi.operations.attachEnrolmentCode(
            .with {
              $0.requestID = id
              $0.payload = "otpauth://totp/ac-test:ens1a?secret=STAGERSTAGER"
              $0.expectedVersion = v
            }, metadata: dsi.metadata
          ).renewal
        }
      default:
        renewal = try await step(renewal)
      }
    }
  }

  /// The next step of the procedure for `renewal`, by whoever takes it.
  private func step(_ renewal: Okey_V1_Renewal) async throws -> Okey_V1_Renewal {
    let id = renewal.requestID
    let v = renewal.version
    // The lycée teacher's request: the lycée's deputy decides, and hands the key over there.
    let lycee = renewal.agentUid == "ens-lyc"
    let agent = lycee ? lyceeAgent : agent
    let n1 = lycee ? lyceeDeputy : n1
    switch renewal.status {
    case .draft, .awaitingDocuments, .pendingApproval, .awaitingEnrolment, .awaitingCharter:
      if renewal.status == .pendingApproval {
        return try await n1.approvals.approve(
          .with {
            $0.requestID = id
            $0.expectedVersion = v
          }, metadata: n1.metadata
        ).renewal
      }
      if renewal.status == .awaitingEnrolment, renewal.platform == .unspecified {
        return try await agent.renewals.chooseMobilePlatform(
          .with {
            $0.requestID = id
            $0.platform = .android
            $0.expectedVersion = v
          }, metadata: agent.metadata
        ).renewal
      }
      if renewal.status == .awaitingEnrolment {
        return try await dsi.operations.confirmEnrolmentElements(
          .with {
            $0.requestID = id
            $0.expectedVersion = v
          }, metadata: dsi.metadata
        ).renewal
      }
      if renewal.status == .awaitingCharter {
        return try await agent.renewals.signCharter(
          .with {
            $0.requestID = id
            $0.charterCode = AuthorisationMatrixTests.charterCode
            $0.acknowledged = true
            $0.expectedVersion = v
          }, metadata: agent.metadata
        ).renewal
      }
      throw StagingError(status: renewal.status)
    case .awaitingDsi:
      return try await dsi.operations.finalize(
        .with {
          $0.requestID = id
          $0.expectedVersion = v
          $0.newKeySerial = "M-\(UInt32.random(in: 0...UInt32.max))"
          if renewal.keyType == .hardware, !lycee { $0.pickupPlaceID = AuthorisationMatrixTests.placeID }
        }, metadata: dsi.metadata
      ).renewal
    case .readyForPickup where !renewal.handoverEstablishment.isEmpty:
      return try await n1.approvals.handOverKey(
        .with {
          $0.requestID = id
          $0.expectedVersion = v
        }, metadata: n1.metadata
      ).renewal
    case .readyForPickup:
      return try await agent.renewals.bookPickup(
        .with {
          $0.requestID = id
          $0.slotID = slotID
          $0.expectedVersion = v
        }, metadata: agent.metadata
      ).renewal
    case .pickupBooked:
      return try await dsi.operations.recordHandover(
        .with {
          $0.requestID = id
          $0.expectedVersion = v
        }, metadata: dsi.metadata
      ).renewal
    default:
      throw StagingError(status: renewal.status)
    }
  }

  /// Cancels what `agent` may still cancel, and carries the rest to completion.
  private func closeOpenRequests(of agent: TestCaller) async throws {
    let mine = try await agent.renewals.listMyRenewals(.init(), metadata: agent.metadata).renewals
    for var renewal in mine where ![.completed, .rejected, .cancelled].contains(renewal.status) {
      while ![.completed, .rejected, .cancelled].contains(renewal.status) {
        if [.draft, .awaitingDocuments, .pendingApproval, .awaitingEnrolment, .awaitingCharter].contains(renewal.status)
        {
          renewal = try await agent.renewals.cancelRenewal(
            .with {
              $0.requestID = renewal.requestID
              $0.expectedVersion = renewal.version
            }, metadata: agent.metadata
          ).renewal
        } else {
          renewal = try await step(renewal)
        }
      }
    }
  }
}

struct StagingError: Error {
  var status: Okey_V1_RenewalStatus
}

extension AuthorisationMatrixTests {
  /// The matrix as the README shows it: one line per RPC, the callers allowed, what the others get.
  static var readmeTable: String {
    var lines = [
      "| RPC | callers allowed (each shown succeeding) | every other caller gets | internal system without the role |",
      "|---|---|---|---|",
    ]
    for rpcCase in cases + qrCases {
      let code = "\(rpcCase.denied)".reduce(into: "") { $0 += $1.isUppercase ? "_\($1)" : $1.uppercased() }
      let refused =
        rpcCase.deniedReason.isEmpty
        ? "—" : "\(code) `\(rpcCase.deniedReason)`" + (rpcCase.ownerReason.map { " (the agent: `\($0)`)" } ?? "")
      let scope = rpcCase.scope.map { "[\($0)] needed: `SCOPE_NOT_GRANTED`" } ?? "—"
      lines.append("| `\(rpcCase.rpc)` | \(rpcCase.allowed.sorted().joined(separator: ", ")) | \(refused) | \(scope) |")
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
      let operatorSelf = try await TestCaller.session(client, "dsi-op1")
      let own = try await operatorSelf.startAndSubmit(.software)
      let operations = Self.cases.filter {
        $0.rpc.hasPrefix("Operations.")
          && ![
            "Operations.ListWork", "Operations.PublishPickupSlots", "Operations.PublishCharter",
            "Operations.ImportKeys",
          ].contains($0.rpc)
      }
      #expect(
        operations.map(\.rpc).sorted() == [
          "Operations.AllowPhoneChange", "Operations.CancelRenewal", "Operations.ConfirmEnrolmentElements",
          "Operations.Finalize",
          "Operations.RecordHandover", "Operations.RecordNoShow", "Operations.RequestElementsAgain",
          "Operations.Reroute",
        ])
      for operation in operations {
        let outcome = await failure {
          try await operation.call(operatorSelf, .init(id: own.requestID, version: own.version))
        }
        #expect(outcome?.code == .permissionDenied, "\(operation.rpc)")
        #expect(outcome?.reason == "OWN_REQUEST", "\(operation.rpc)")
      }
      #expect(try await operatorSelf.get(own.requestID).version == own.version)
    }
  }
}

extension TestCaller {
  func renamed(_ name: String) -> TestCaller {
    var copy = self
    copy.name = name
    return copy
  }
}
