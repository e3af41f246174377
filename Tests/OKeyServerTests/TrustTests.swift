import Foundation
import GRPCCore
import OKeyAPI
import OKeyStore
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

/// The paths to someone else's approval, each closed (issue 13), over real gRPC and a real slapd.
@Suite("trust: the right person decides, sees the evidence, and the trail proves it", .serialized)
struct TrustTests {
  func pending(_ daemon: OKeyDaemon) async throws -> [OutboxMessage] {
    try await daemon.application.store.outboxMessages(state: .pending, limit: 1000)
  }

  @Test(
    "a colleague cannot be named validator; a head of establishment can, the proposed N+1 is told and approvers see who was replaced"
  )
  func validatorChoice() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let draft = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      #expect(draft.routing.n1.person.uid == "ien1")
      let colleague = await failure {
        _ = try await agent.renewals.setValidator(
          .with {
            $0.requestID = draft.requestID
            $0.validatorUid = "ens1b"
            $0.expectedVersion = draft.version
          }, metadata: agent.metadata)
      }
      #expect(colleague?.code == .permissionDenied)
      #expect(colleague?.reason == "VALIDATOR_NOT_ALLOWED")
      #expect(try await agent.get(draft.requestID).version == draft.version, "a refused correction writes nothing")

      let corrected = try await agent.renewals.setValidator(
        .with {
          $0.requestID = draft.requestID
          $0.validatorUid = "principal1"
          $0.expectedVersion = draft.version
        }, metadata: agent.metadata
      ).renewal
      #expect(corrected.routing.n1.person.uid == "principal1")
      #expect(corrected.routing.n1.foundBy.hasPrefix("named by the agent instead of ien1"))
      let told = try await pending(daemon).filter { $0.kind == .validatorReplaced }
      #expect(told.map { $0.recipient?.uid } == ["ien1"])
      #expect(told.first?.details == "principal1")
    }
  }

  @Test("with validatorChoice directory, even a head of establishment cannot be named")
  func directoryOnly() async throws {
    try await withAcademy(configure: { $0.routing.validatorChoice = .directory }) { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let draft = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      let outcome = await failure {
        _ = try await agent.renewals.setValidator(
          .with {
            $0.requestID = draft.requestID
            $0.validatorUid = "principal1"
            $0.expectedVersion = draft.version
          }, metadata: agent.metadata)
      }
      #expect(outcome?.reason == "VALIDATOR_NOT_ALLOWED")
    }
  }

  @Test("auto-validation is decided on the directory of the day of submission, and the audit says what changed")
  func routingAtSubmission() async throws {
    try await withAcademy { daemon, client, slapd in
      // ens2a holds a current ONDE delegation when she starts; it is withdrawn before she submits.
      let agent = TestCaller.portal(client, for: "ens2a")
      let draft = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      #expect(draft.routing.ondeDelegation)
      try await slapd.modify(
        """
        dn: uid=ens2a,ou=people,dc=ac-test,dc=fr
        changetype: modify
        delete: FrEduResDel

        """)
      let submitted = try await agent.startAndSubmitExisting(draft)
      #expect(submitted.status == .pendingApproval, "an expired delegation does not validate automatically")
      let history = try await agent.get(draft.requestID).history
      #expect(
        history.last?.details.contains("the ONDE delegation is no longer current") == true,
        "\(history.last?.details ?? "")")

      // The directory down at submission: UNAVAILABLE and nothing written.
      let other = try await TestCaller.session(client, "ens1a")
      var second = try await other.renewals.startRenewal(
        .with {
          $0.keyType = .hardware
          $0.motif = .expired
        }, metadata: other.metadata
      ).renewal
      second = try await other.renewals.addDocument(
        .with {
          $0.requestID = second.requestID
          $0.filename = "a.pdf"
          $0.kind = "supporting-document"
          $0.content = pdfBytes
          $0.expectedVersion = second.version
        }, metadata: other.metadata
      ).renewal
      try await slapd.stop()
      let down = await failure {
        _ = try await other.renewals.submitRenewal(
          .with {
            $0.requestID = second.requestID
            $0.expectedVersion = second.version
          }, metadata: other.metadata)
      }
      #expect(down?.code == .unavailable)
      try await slapd.restart()
      #expect(try await other.get(second.requestID).version == second.version)
      _ = daemon
    }
  }

  @Test("a disabled account cannot log in, be acted for, or approve though the snapshot names it; its session ends")
  func disabled() async throws {
    try await withAcademy(configure: { $0.sessions.recheckSeconds = 0 }) { _, client, slapd in
      let auth = Okey_V1_AuthService.Client(wrapping: client)
      let login = await failure {
        _ = try await auth.login(
          .with {
            $0.uid = "disabled-boss"
            $0.password = SlapdFixture.personPassword
          })
      }
      #expect(login?.code == .unauthenticated)
      #expect(login?.reason == "BAD_CREDENTIALS", "the same refusal as a wrong password")
      let portal = TestCaller.portal(client, for: "disabled-boss")
      #expect(
        await failure { _ = try await portal.renewals.listMyRenewals(.init(), metadata: portal.metadata) }?.reason
          == "PERSON_DISABLED")

      // ien1 is named by the snapshot, logs in, then is disabled: the approval is refused.
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let n1 = try await TestCaller.session(client, "ien1")
      try await slapd.setDisabled("ien1")
      let approve = await failure {
        _ = try await n1.approvals.approve(
          .with {
            $0.requestID = request.requestID
            $0.expectedVersion = request.version
          }, metadata: n1.metadata)
      }
      #expect(approve?.code == .unauthenticated, "the session is re-read (recheckSeconds 0) and ends")
      #expect(try await agent.get(request.requestID).status == .pendingApproval)
      #expect(await failure { _ = try await n1.auth.whoAmI(.init(), metadata: n1.metadata) }?.code == .unauthenticated)
    }
  }

  @Test("a validator disabled after logging in cannot decide even while the session is trusted")
  func disabledDuringSession() async throws {
    try await withAcademy { _, client, slapd in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let n1 = try await TestCaller.session(client, "ien1")
      try await slapd.setDisabled("ien1")
      let approve = await failure {
        _ = try await n1.approvals.approve(
          .with {
            $0.requestID = request.requestID
            $0.expectedVersion = request.version
          }, metadata: n1.metadata)
      }
      #expect(approve?.code == .permissionDenied)
      #expect(approve?.reason == "PERSON_DISABLED")
    }
  }

  @Test(
    "a person removed from the DSI group loses the DSI rights at the next re-read, and an open Watch stream ends when the person is disabled",
    .timeLimit(.minutes(1)))
  func groupRemovalAndWatch() async throws {
    try await withAcademy(configure: { $0.sessions.recheckSeconds = 0 }) { _, client, slapd in
      let dsi = try await TestCaller.session(client, "dsi-op1")
      _ = try await dsi.operations.listWork(.init(), metadata: dsi.metadata)
      try await slapd.modify(
        """
        dn: cn=dsi,ou=groups,dc=ac-test,dc=fr
        changetype: modify
        delete: member
        member: uid=dsi-op1,ou=people,dc=ac-test,dc=fr

        """)
      let refused = await failure { _ = try await dsi.operations.listWork(.init(), metadata: dsi.metadata) }
      #expect(refused?.reason == "NOT_DSI")

      let agent = try await TestCaller.session(client, "ens1b")
      let draft = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      let ended = await failure {
        try await withTimeLimit(.seconds(20), "the Watch stream of a disabled person") {
          try await agent.renewals.watchRenewal(.with { $0.requestID = draft.requestID }, metadata: agent.metadata) {
            response in
            var first = true
            for try await _ in response.messages where first {
              first = false
              try await slapd.setDisabled("ens1b")
            }
          }
        }
      }
      #expect(ended?.code == .unauthenticated, "\(String(describing: ended))")
    }
  }

  @Test(
    "an internal system acts for people only within its roles: no approving with [agent], no DSI operation without dsi")
  func scopes() async throws {
    try await withAcademy { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let portalForN1 = TestCaller.portal(client, for: "ien1")
      let viaPortal = await failure {
        _ = try await portalForN1.approvals.approve(
          .with {
            $0.requestID = request.requestID
            $0.expectedVersion = request.version
          }, metadata: portalForN1.metadata)
      }
      #expect(viaPortal?.reason == "SCOPE_NOT_GRANTED")
      #expect(
        await failure { _ = try await portalForN1.get(request.requestID) }?.reason == "NOT_YOUR_REQUEST",
        "no reading as a validator either")
      let portalForDSI = TestCaller.portal(client, for: "dsi-op1")
      let publish = await failure {
        _ = try await portalForDSI.operations.publishCharter(
          .with {
            $0.version = "v-scope"
            $0.text = "t"
            $0.code = "1234"
          }, metadata: portalForDSI.metadata)
      }
      #expect(publish?.reason == "NOT_DSI")
      let desk = TestCaller.portal(client, for: "dsi-op1", key: deskKey)
      _ = try await desk.operations.publishCharter(
        .with {
          $0.version = "v-desk"
          $0.text = "t"
          $0.code = "1234"
        }, metadata: desk.metadata)
      let approvals = TestCaller.portal(client, for: "ien1", key: approvalsKey)
      let approved = try await approvals.approvals.approve(
        .with {
          $0.requestID = request.requestID
          $0.expectedVersion = request.version
        }, metadata: approvals.metadata)
      #expect(approved.renewal.status == .awaitingEnrolment)
      #expect(
        await failure { _ = try await approvals.renewals.listMyRenewals(.init(), metadata: approvals.metadata) }?.reason
          == "SCOPE_NOT_GRANTED")
    }
  }

  @Test("a DSI operator cannot confirm or finalise their own request; another operator can")
  func dsiOwnRequest() async throws {
    try await withAcademy { _, client in
      let operatorSelf = try await TestCaller.session(client, "dsi-op1")
      var request = try await operatorSelf.startAndSubmit(.software)
      let head = try await TestCaller.session(client, "dsi-head")
      request = try await head.approvals.approve(
        .with {
          $0.requestID = request.requestID
          $0.expectedVersion = request.version
        }, metadata: head.metadata
      ).renewal
      request = try await operatorSelf.renewals.chooseMobilePlatform(
        .with {
          $0.requestID = request.requestID
          $0.platform = .android
          $0.expectedVersion = request.version
        }, metadata: operatorSelf.metadata
      ).renewal
      let own = await failure {
        _ = try await operatorSelf.operations.confirmEnrolmentElements(
          .with {
            $0.requestID = request.requestID
            $0.expectedVersion = request.version
          }, metadata: operatorSelf.metadata)
      }
      #expect(own?.code == .permissionDenied)
      #expect(own?.reason == "OWN_REQUEST")
      let confirmed = try await head.operations.confirmEnrolmentElements(
        .with {
          $0.requestID = request.requestID
          $0.expectedVersion = request.version
        }, metadata: head.metadata)
      #expect(confirmed.renewal.status == .awaitingCharter)
    }
  }

  @Test(
    "the approver downloads the document byte for byte, support sees its metadata, anyone else gets NOT_FOUND; each read is audited"
  )
  func documents() async throws {
    try await withAcademy { _, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let document = try #require(request.documents.first)
      let n1 = try await TestCaller.session(client, "ien1")
      let read = try await n1.renewals.getDocument(
        .with {
          $0.requestID = request.requestID
          $0.documentID = document.documentID
        }, metadata: n1.metadata)
      #expect(read.content == pdfBytes)
      #expect(read.contentIncluded)
      #expect(read.document.sha256 == document.sha256)
      #expect(read.document.mediaType == "application/pdf")
      let support = try await TestCaller.session(client, "helpdesk1")
      let metadataOnly = try await support.renewals.getDocument(
        .with {
          $0.requestID = request.requestID
          $0.documentID = document.documentID
        }, metadata: support.metadata)
      #expect(metadataOnly.content.isEmpty)
      #expect(!metadataOnly.contentIncluded)
      #expect(metadataOnly.document.sizeBytes == Int64(pdfBytes.count))
      for uid in ["ens1b", "principal1"] {
        let other = try await TestCaller.session(client, uid)
        let outcome = await failure {
          _ = try await other.renewals.getDocument(
            .with {
              $0.requestID = request.requestID
              $0.documentID = document.documentID
            }, metadata: other.metadata)
        }
        #expect(outcome?.code == .notFound, "\(uid)")
      }
      let reads = try await agent.get(request.requestID).history.filter { $0.action == "read-document" }
      #expect(reads.map(\.actor) == ["ien1", "helpdesk1"])
      #expect(try await agent.get(request.requestID).version == request.version, "a read changes no version")

      // A PDF cut before its end is refused at upload.
      let next = try await TestCaller.session(client, "ens3")
      let draft = try await next.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: next.metadata
      ).renewal
      let cut = await failure {
        _ = try await next.renewals.addDocument(
          .with {
            $0.requestID = draft.requestID
            $0.filename = "cut.pdf"
            $0.kind = "supporting-document"
            $0.content = pdfBytes.prefix(30)
            $0.expectedVersion = draft.version
          }, metadata: next.metadata)
      }
      #expect(cut?.reason == "DOCUMENT_TYPE")
    }
  }

  @Test("the N+2 approves one request and rejects another; the N+1 is told by mail each time")
  func n1Informed() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let n2 = try await TestCaller.session(client, "dasen974")
      _ = try await n2.approvals.approve(
        .with {
          $0.requestID = request.requestID
          $0.expectedVersion = request.version
        }, metadata: n2.metadata)
      let colleague = try await TestCaller.session(client, "ens1b")
      let second = try await colleague.startAndSubmit(.hardware)
      let rejected = try await n2.approvals.reject(
        .with {
          $0.requestID = second.requestID
          $0.reason = "pas de justificatif lisible"
          $0.expectedVersion = second.version
        }, metadata: n2.metadata)
      #expect(rejected.renewal.status == .rejected, "the N+2 rejects too")
      let told = try await pending(daemon).filter { $0.kind == .n1Informed }
      #expect(told.map { $0.recipient?.uid } == ["ien1", "ien1"])
      #expect(Set(told.map(\.renewalID)) == [request.requestID, second.requestID])
    }
  }

  @Test("emptying the trail, cutting its tail after an exported head, or rewriting a request row is detected")
  func auditTampering() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let support = try await TestCaller.session(client, "helpdesk1")
      let clean = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata)
      #expect(clean.intact)
      #expect(clean.keyed)
      let head = try await support.support.getAuditHead(.init(), metadata: support.metadata)
      #expect(head.sequence == clean.eventsChecked)
      let database = daemon.configuration.database.path
      func verify(_ request: Okey_V1_VerifyAuditTrailRequest = .init()) async throws -> Set<String> {
        Set(try await support.support.verifyAuditTrail(request, metadata: support.metadata).problems.map(\.kind))
      }

      _ = try await sqlite3(database, "UPDATE renewals SET n1_uid = 'ens1b' WHERE id = '\(request.requestID)'")
      #expect(try await verify() == ["STATE_MISMATCH"])
      _ = try await sqlite3(database, "UPDATE renewals SET n1_uid = 'ien1' WHERE id = '\(request.requestID)'")
      #expect(try await verify().isEmpty)

      // The last event cut and the head row moved back to match: only the exported head tells.
      _ = try await sqlite3(
        database,
        "DELETE FROM audit_events WHERE sequence = \(head.sequence); UPDATE audit_head SET last_sequence = last_sequence - 1, last_hash = (SELECT hash FROM audit_events WHERE sequence = \(head.sequence - 1))"
      )
      let withHead = try await verify(
        .with {
          $0.expectedHeadSequence = head.sequence
          $0.expectedHeadHash = head.hash
        })
      #expect(withHead.contains("TRUNCATED"))
      #expect(withHead.contains("STATE_MISMATCH"), "the request's state is past its last remaining event")

      _ = try await sqlite3(database, "DELETE FROM audit_events; DELETE FROM audit_head;")
      #expect(try await verify().contains("EMPTIED"))
    }
  }
}

@Suite("trust: what someone with write access to the database file cannot do", .serialized)
struct DatabaseWriterTests {
  @Test("a session row written into the file by hand opens no session: tokens are stored as an HMAC under the key")
  func forgedSessionRow() async throws {
    try await withAcademy { daemon, client in
      let token = "forged-session-token"
      let later = Int64(Date().timeIntervalSince1970 * 1000) + 3_600_000
      _ = try await sqlite3(
        daemon.configuration.database.path,
        "INSERT INTO sessions (token_hash, uid, created_at, expires_at, dn, display_name, mail, groups) VALUES ('\(sha256Hex(token))', 'ien1', 0, \(later), 'uid=ien1,ou=people,dc=ac-test,dc=fr', '', '', '')"
      )
      let forged = TestCaller(client, name: "forged", metadata: ["authorization": "Bearer \(token)"])
      #expect(
        await failure { _ = try await forged.auth.whoAmI(.init(), metadata: forged.metadata) }?.code == .unauthenticated
      )
    }
  }

  @Test(
    "a request edited in the file is never carried forward: the next change is refused DATA_LOSS and the trail shows it"
  )
  func tamperedRequestRefused() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let database = daemon.configuration.database.path
      // The accomplice ens1b written into the state as N+1, the columns to match, the version bumped.
      _ = try await sqlite3(
        database,
        "UPDATE renewals SET state_json = replace(state_json, '\"uid\":\"ien1\"', '\"uid\":\"ens1b\"'), n1_uid = 'ens1b', version = version + 1, state_json = replace(replace(state_json, '\"uid\":\"ien1\"', '\"uid\":\"ens1b\"'), '\"version\":\(request.version)', '\"version\":\(request.version + 1)') WHERE id = '\(request.requestID)'"
      )
      let accomplice = try await TestCaller.session(client, "ens1b")
      let outcome = await failure {
        _ = try await accomplice.approvals.approve(
          .with {
            $0.requestID = request.requestID
            $0.expectedVersion = request.version + 1
          }, metadata: accomplice.metadata)
      }
      #expect(outcome?.code == .dataLoss, "\(String(describing: outcome))")
      #expect(outcome?.reason == "REQUEST_TAMPERED")
      let support = try await TestCaller.session(client, "helpdesk1")
      let kinds = try await support.support.verifyAuditTrail(.init(), metadata: support.metadata).problems.map(\.kind)
      #expect(kinds.contains("STATE_MISMATCH"))
    }
  }

  @Test("document bytes replaced in the file are not served to the approver")
  func alteredDocument() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let document = try #require(request.documents.first)
      _ = try await sqlite3(
        daemon.configuration.database.path,
        "UPDATE documents SET content = X'25504446' WHERE id = '\(document.documentID)'")
      let n1 = try await TestCaller.session(client, "ien1")
      let outcome = await failure {
        _ = try await n1.renewals.getDocument(
          .with {
            $0.requestID = request.requestID
            $0.documentID = document.documentID
          }, metadata: n1.metadata)
      }
      #expect(outcome?.code == .dataLoss)
      #expect(outcome?.reason == "DOCUMENT_ALTERED")
    }
  }

  @Test("while the directory is down a session keeps its own requests but not its DSI rights (fail closed)")
  func outageWithholdsRoles() async throws {
    try await withAcademy(configure: { $0.sessions.recheckSeconds = 0 }) { _, client, slapd in
      let dsi = try await TestCaller.session(client, "dsi-op1")
      _ = try await dsi.operations.listWork(.init(), metadata: dsi.metadata)
      try await slapd.stop()
      #expect(
        await failure { _ = try await dsi.operations.listWork(.init(), metadata: dsi.metadata) }?.reason == "NOT_DSI")
      _ = try await dsi.renewals.listMyRenewals(.init(), metadata: dsi.metadata)
      try await slapd.restart()
      _ = try await dsi.operations.listWork(.init(), metadata: dsi.metadata)
    }
  }
}

extension TestCaller {
  /// Adds a document to a draft and submits it.
  func startAndSubmitExisting(_ draft: Okey_V1_Renewal, kind: String = "supporting-document") async throws
    -> Okey_V1_Renewal
  {
    let renewal = try await renewals.addDocument(
      .with {
        $0.requestID = draft.requestID
        $0.filename = "justificatif.pdf"
        $0.mediaType = "application/pdf"
        $0.kind = kind
        $0.content = pdfBytes
        $0.expectedVersion = draft.version
      }, metadata: metadata
    ).renewal
    return try await renewals.submitRenewal(
      .with {
        $0.requestID = renewal.requestID
        $0.expectedVersion = renewal.version
      }, metadata: metadata
    ).renewal
  }
}
