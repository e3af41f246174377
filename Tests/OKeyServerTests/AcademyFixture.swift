import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import GRPCProtobuf
import OKeyAPI
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

/// The key of the portal's service account in the tests.
let portalKey = "portal-test-key-0123456789"
let toolsKey = "tools-test-key-no-people"
/// An internal system that may only decide for validators.
let approvalsKey = "approvals-test-key-approver-only"
/// An internal system of the DSI (roles agent and dsi).
let deskKey = "dsi-desk-test-key-agent-and-dsi"
/// An internal system of support (role support only).
let helpdeskKey = "helpdesk-tool-test-key-support"

/// Runs `body` with the sample academy in a slapd and an okeyd in-process using it.
func withAcademy<Result: Sendable>(
  configure: @escaping (inout OKeyConfiguration) -> Void = { _ in },
  _ body: (OKeyDaemon, GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Result
) async throws -> Result {
  try await withAcademy(configure: configure) { daemon, client, _ in try await body(daemon, client) }
}

/// Runs `body` with the sample academy in a slapd (given to `body`, to change the directory) and an
/// okeyd in-process using it.
func withAcademy<Result: Sendable>(
  configure: @escaping (inout OKeyConfiguration) -> Void = { _ in },
  _ body: (OKeyDaemon, GRPCClient<HTTP2ClientTransport.Posix>, SlapdFixture) async throws -> Result
) async throws -> Result {
  try await withSlapd { slapd in
    try await withOKeyDaemon(configure: { configuration in
      configuration.directory = slapd.directoryConfiguration(cacheTTLSeconds: 5)
      configuration.serviceAccounts = [
        .init(name: "portal", keySHA256: Tokens.hash(portalKey)),
        .init(name: "dsi-tools", keySHA256: Tokens.hash(toolsKey), actsForPeople: false),
        .init(name: "approvals", keySHA256: Tokens.hash(approvalsKey), roles: [.approver]),
        .init(name: "dsi-desk", keySHA256: Tokens.hash(deskKey), roles: [.agent, .dsi]),
        .init(name: "helpdesk-tool", keySHA256: Tokens.hash(helpdeskKey), roles: [.support]),
      ]
      configure(&configuration)
    }) { daemon, address in
      try await withClient(address) { client in try await body(daemon, client, slapd) }
    }
  }
}

/// Someone calling the API: metadata plus typed clients.
struct TestCaller: Sendable {
  var name: String
  let metadata: Metadata
  let auth: Okey_V1_AuthService.Client<HTTP2ClientTransport.Posix>
  let renewals: Okey_V1_RenewalService.Client<HTTP2ClientTransport.Posix>
  let approvals: Okey_V1_ApprovalService.Client<HTTP2ClientTransport.Posix>
  let operations: Okey_V1_OperationsService.Client<HTTP2ClientTransport.Posix>
  let support: Okey_V1_SupportService.Client<HTTP2ClientTransport.Posix>

  init(_ client: GRPCClient<HTTP2ClientTransport.Posix>, name: String, metadata: Metadata) {
    self.name = name
    self.metadata = metadata
    auth = .init(wrapping: client)
    renewals = .init(wrapping: client)
    approvals = .init(wrapping: client)
    operations = .init(wrapping: client)
    support = .init(wrapping: client)
  }

  static func anonymous(_ client: GRPCClient<HTTP2ClientTransport.Posix>) -> TestCaller {
    TestCaller(client, name: "anonymous", metadata: [:])
  }

  /// A person's session, by Login with the fixture password.
  static func session(_ client: GRPCClient<HTTP2ClientTransport.Posix>, _ uid: String) async throws -> TestCaller {
    let login = try await Okey_V1_AuthService.Client(wrapping: client).login(
      .with {
        $0.uid = uid
        $0.password = SlapdFixture.personPassword
      })
    return TestCaller(client, name: uid, metadata: ["authorization": "Bearer \(login.token)"])
  }

  /// The portal's service account acting for `uid` (or for nobody).
  static func portal(_ client: GRPCClient<HTTP2ClientTransport.Posix>, for uid: String?, key: String = portalKey)
    -> TestCaller
  {
    var metadata: Metadata = ["authorization": "Bearer \(key)"]
    if let uid { metadata.addString(uid, forKey: "x-okey-on-behalf-of") }
    return TestCaller(client, name: "portal for \(uid ?? "nobody")", metadata: metadata)
  }
}

/// A small real PDF.
let pdfBytes = Data("%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".utf8)

/// The gRPC code and ErrorInfo reason of a failed call, or nil when it succeeded.
func failure(_ body: () async throws -> Void) async -> (code: RPCError.Code, reason: String)? {
  do {
    try await body()
    return nil
  } catch let error as RPCError {
    let reason = (try? error.unpackGoogleRPCStatus())??.details.first?.errorInfo?.reason ?? ""
    return (error.code, reason)
  } catch {
    return (.unknown, "\(error)")
  }
}

extension TestCaller {
  /// Starts, documents and submits a request; returns it as submitted.
  func startAndSubmit(_ keyType: Okey_V1_KeyType, motif: Okey_V1_Motif = .expired, kind: String = "supporting-document")
    async throws -> Okey_V1_Renewal
  {
    var renewal = try await renewals.startRenewal(
      .with {
        $0.keyType = keyType
        $0.motif = motif
      }, metadata: metadata
    ).renewal
    renewal = try await renewals.addDocument(
      .with {
        $0.requestID = renewal.requestID
        $0.filename = "justificatif.pdf"
        $0.mediaType = "application/pdf"
        $0.kind = kind
        $0.content = pdfBytes
        $0.expectedVersion = renewal.version
      }, metadata: metadata
    ).renewal
    return try await renewals.submitRenewal(
      .with {
        $0.requestID = renewal.requestID
        $0.expectedVersion = renewal.version
      }, metadata: metadata
    ).renewal
  }

  func get(_ id: String) async throws -> Okey_V1_Renewal {
    try await renewals.getRenewal(.with { $0.requestID = id }, metadata: metadata).renewal
  }
}

extension TestCaller {
  /// Publishes a charter as this DSI operator.
  func publishCharter(version: String, code: String) async throws {
    _ = try await operations.publishCharter(
      .with {
        $0.version = version
        $0.text = "Je garde ma clé pour moi."
        $0.code = code
      }, metadata: metadata)
  }
}

/// Walks an approved software-key request (AWAITING_ENROLMENT) to COMPLETED: the agent chooses
/// `platform`, the DSI confirms the elements, the agent signs with `charterCode`, the DSI finalises
/// with `serial`. Returns the enrolment instructions the agent read and the completed request.
func completeSoftwareKey(
  _ renewal: Okey_V1_Renewal, agent: TestCaller, dsi: TestCaller, platform: Okey_V1_MobilePlatform = .android,
  charterCode: String, serial: String
) async throws -> (instructions: Okey_V1_EnrolmentInstructions, renewal: Okey_V1_Renewal) {
  let chosen = try await agent.renewals.chooseMobilePlatform(
    .with {
      $0.requestID = renewal.requestID
      $0.platform = platform
      $0.expectedVersion = renewal.version
    }, metadata: agent.metadata)
  var current = try await dsi.operations.confirmEnrolmentElements(
    .with {
      $0.requestID = renewal.requestID
      $0.expectedVersion = chosen.renewal.version
    }, metadata: dsi.metadata
  ).renewal
  current = try await agent.renewals.signCharter(
    .with {
      $0.requestID = renewal.requestID
      $0.charterCode = charterCode
      $0.acknowledged = true
      $0.expectedVersion = current.version
    }, metadata: agent.metadata
  ).renewal
  current = try await dsi.operations.finalize(
    .with {
      $0.requestID = renewal.requestID
      $0.expectedVersion = current.version
      $0.newKeySerial = serial
    }, metadata: dsi.metadata
  ).renewal
  return (chosen.instructions, current)
}
