import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import SwiftProtobuf
import Testing

@Suite("every write is safe to retry", .serialized)
struct RetryTests {
  /// The RPCs that change something (walked from the contract, not listed here), but StartRenewal,
  /// whose matrix call cancels what it starts (its retries are ProcedureTests.idempotency's).
  static func mutatingCases(qrMode: Bool) throws -> [AuthorisationMatrixTests.Case] {
    let walk = try ContractWalk()
    let mutating = Set(
      walk.methods.filter {
        $0.method.options.idempotencyLevel == .idempotencyUnknown
          && ContractWalk.exemptFromIdempotencyKey[$0.name] == nil
      }
      .map { $0.name.replacingOccurrences(of: "okey.v1.", with: "").replacingOccurrences(of: "Service.", with: ".") })
    let all = (AuthorisationMatrixTests.cases + AuthorisationMatrixTests.qrCases).filter {
      mutating.contains($0.rpc) && $0.rpc != "Renewal.StartRenewal"
    }
    #expect(Set(all.map(\.rpc)).union(["Renewal.StartRenewal"]) == mutating, "every mutating RPC has a matrix case")
    return (qrMode ? AuthorisationMatrixTests.qrCases : AuthorisationMatrixTests.cases).filter {
      mutating.contains($0.rpc) && $0.rpc != "Renewal.StartRenewal"
    }
  }

  /// The caller the case is played by: the agent, the N+1, or a DSI operator.
  static func player(of rpcCase: AuthorisationMatrixTests.Case, among callers: [String: TestCaller]) throws
    -> TestCaller
  {
    let name = try #require(["agent", "n1", "dsi"].first { rpcCase.allowed.contains($0) }, "\(rpcCase.rpc)")
    return try #require(callers[name])
  }

  @Test(
    "each change retried with its idempotency key gets the first result and changes nothing more; the key with other arguments is FAILED_PRECONDITION IDEMPOTENCY_KEY_REUSED",
    .timeLimit(.minutes(2)), arguments: [false, true])
  func retries(qrMode: Bool) async throws {
    try await withAcademyFor(qrMode: qrMode) { client in
      let callers = [
        "agent": try await TestCaller.session(client, "ens1a"), "n1": try await TestCaller.session(client, "ien1"),
        "dsi": try await TestCaller.session(client, "dsi-op1"),
      ]
      let support = try await TestCaller.session(client, "helpdesk1")
      let stager = try await Stager(client)
      var failures: [String] = []
      for rpcCase in try Self.mutatingCases(qrMode: qrMode) {
        let caller = try Self.player(of: rpcCase, among: callers)
        var target = try await stager.prepare(rpcCase.stage)
        target.key = "retry-\(UInt32.random(in: 0...UInt32.max))"
        if let failure = await failure({ try await rpcCase.call(caller, target) }) {
          failures.append("\(rpcCase.rpc): the first call failed \(failure)")
          continue
        }
        let afterFirst = try await Self.snapshot(support, target)
        if let failure = await failure({ try await rpcCase.call(caller, target) }) {
          failures.append("\(rpcCase.rpc): the retry failed \(failure)")
        }
        let afterRetry = try await Self.snapshot(support, target)
        if afterRetry != afterFirst {
          failures.append("\(rpcCase.rpc): the retry changed something (\(afterFirst) then \(afterRetry))")
        }
        var other = target
        other.version += 1
        let reused = await failure { try await rpcCase.call(caller, other) }
        if reused?.code != .failedPrecondition || reused?.reason != "IDEMPOTENCY_KEY_REUSED" {
          failures.append("\(rpcCase.rpc): the key with other arguments gave \(reused.map { "\($0)" } ?? "OK")")
        }
      }
      #expect(failures.isEmpty, "\(failures.joined(separator: "\n"))")
    }
  }

  /// What a retry must leave as it is: the request's version and the audit head; the slots and the
  /// charter for the publishing calls.
  static func snapshot(_ support: TestCaller, _ target: AuthorisationMatrixTests.Target) async throws -> String {
    let head = try await support.support.getAuditHead(.init(), metadata: support.metadata)
    let version =
      target.id.isEmpty
      ? 0
      : try await support.support.getRenewal(.with { $0.requestID = target.id }, metadata: support.metadata).renewal
        .version
    let charter = try await support.renewals.getCharter(.init(), metadata: support.metadata).charter.version
    let stats =
      try await support.support.stats(.init(), metadata: support.metadata).tables.first { $0.name == "pickup_slots" }?
      .rows ?? -1
    return "version \(version), audit head \(head.sequence), charter \(charter), slots \(stats)"
  }

  @Test(
    "expected_version 0 (a client that forgot it) is INVALID_ARGUMENT naming the field, on every RPC that takes one",
    .timeLimit(.minutes(2)), arguments: [false, true])
  func expectedVersionZero(qrMode: Bool) async throws {
    let walk = try ContractWalk()
    let withVersion = Set(
      walk.methods.filter { method in
        walk.messages.first { "." + $0.name == method.method.inputType }?.message.field.contains {
          $0.name == "expected_version"
        } == true
      }.map { $0.name.replacingOccurrences(of: "okey.v1.", with: "").replacingOccurrences(of: "Service.", with: ".") })
    let all = (AuthorisationMatrixTests.cases + AuthorisationMatrixTests.qrCases).filter {
      withVersion.contains($0.rpc)
    }
    #expect(Set(all.map(\.rpc)) == withVersion)
    let cases = (qrMode ? AuthorisationMatrixTests.qrCases : AuthorisationMatrixTests.cases).filter {
      withVersion.contains($0.rpc)
    }
    try await withAcademyFor(qrMode: qrMode) { client in
      let callers = [
        "agent": try await TestCaller.session(client, "ens1a"), "n1": try await TestCaller.session(client, "ien1"),
        "dsi": try await TestCaller.session(client, "dsi-op1"),
      ]
      let stager = try await Stager(client)
      var failures: [String] = []
      for rpcCase in cases {
        var target = try await stager.prepare(rpcCase.stage)
        let before = try await stager.version(of: target.id)
        target.version = 0
        let outcome = await failure { try await rpcCase.call(try Self.player(of: rpcCase, among: callers), target) }
        if outcome?.code != .invalidArgument || outcome?.reason != "INVALID_FIELD" {
          failures.append("\(rpcCase.rpc): \(outcome.map { "\($0)" } ?? "OK")")
        }
        if try await stager.version(of: target.id) != before { failures.append("\(rpcCase.rpc): changed the request") }
      }
      #expect(failures.isEmpty, "\(failures)")
    }
  }
}

/// The sample academy, with `enrolment.mode: qr` (the enrolment-code RPCs' cases) or without.
func withAcademyFor(qrMode: Bool, _ body: @escaping (GRPCClient<HTTP2ClientTransport.Posix>) async throws -> Void)
  async throws
{
  try await withTemporaryDirectory { folder in
    let configure = qrMode ? try AuthorisationMatrixTests.qrMode(folder) : { _ in }
    try await withAcademy(configure: configure) { _, client in try await body(client) }
  }
}

extension RetryTests {
  @Test(
    "a retry is answered from its key before the directory is asked: StartRenewal, SubmitRenewal and Approve retried during a directory outage get their first result",
    .timeLimit(.minutes(1)))
  func retryDuringOutage() async throws {
    try await withAcademy(configure: { $0.directory.cacheTTLSeconds = 0 }) { _, client, slapd in
      // A session: its person is read again only every sessions.recheckSeconds, so it outlives the
      // outage's first minutes.
      let agent = try await TestCaller.session(client, "ens1a")
      let start = Okey_V1_StartRenewalRequest.with {
        $0.keyType = .software
        $0.motif = .expired
        $0.idempotencyKey = "outage-start"
      }
      let started = try await agent.renewals.startRenewal(start, metadata: agent.metadata).renewal
      let added = try await agent.renewals.addDocument(
        .with {
          $0.requestID = started.requestID
          $0.filename = "a.pdf"
          $0.kind = "supporting-document"
          $0.content = pdfBytes
          $0.expectedVersion = started.version
        }, metadata: agent.metadata
      ).renewal
      let submit = Okey_V1_SubmitRenewalRequest.with {
        $0.requestID = added.requestID
        $0.expectedVersion = added.version
        $0.idempotencyKey = "outage-submit"
      }
      let submitted = try await agent.renewals.submitRenewal(submit, metadata: agent.metadata).renewal
      let approver = try await TestCaller.session(client, "ien1")
      let approve = Okey_V1_ApproveRequest.with {
        $0.requestID = submitted.requestID
        $0.expectedVersion = submitted.version
        $0.idempotencyKey = "outage-approve"
      }
      let approved = try await approver.approvals.approve(approve, metadata: approver.metadata).renewal
      try await slapd.stop()
      // Without the directory a new start fails: the routing cannot be resolved.
      let fresh = await failure {
        _ = try await agent.renewals.startRenewal(
          .with {
            $0.keyType = .hardware
            $0.motif = .lost
          }, metadata: agent.metadata)
      }
      #expect(fresh?.code == .unavailable)
      let startedAgain = try await agent.renewals.startRenewal(start, metadata: agent.metadata).renewal
      #expect(startedAgain.requestID == started.requestID)
      #expect(startedAgain.version == started.version)
      let submittedAgain = try await agent.renewals.submitRenewal(submit, metadata: agent.metadata).renewal
      #expect(submittedAgain.version == submitted.version)
      #expect(submittedAgain.status == submitted.status)
      // The N+1 approved before the outage; the retry gets the approval back (a new decision would
      // first read the approver from the directory, which is down).
      let approvedAgain = try await approver.approvals.approve(approve, metadata: approver.metadata).renewal
      #expect(approvedAgain.version == approved.version && approvedAgain.status == approved.status)
    }
  }
}
