import Foundation
import GRPCCore
import OKeyAPI
import OKeyStore
import OKeyTestSupport
import Testing

@testable import OKeyServer

@Suite("retention of personal data and growth", .serialized)
struct RetentionTests {
  @Test(
    "a cancelled request's documents lose their content at once; their name, size and SHA-256 stay and the trail verifies"
  )
  func cancelled() async throws {
    try await withAcademy { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      var draft = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      draft = try await agent.renewals.addDocument(
        .with {
          $0.requestID = draft.requestID
          $0.filename = "a.pdf"
          $0.kind = "supporting-document"
          $0.content = pdfBytes
          $0.expectedVersion = draft.version
        }, metadata: agent.metadata
      ).renewal
      let document = try #require(draft.documents.first)
      let cancelled = try await agent.renewals.cancelRenewal(
        .with {
          $0.requestID = draft.requestID
          $0.expectedVersion = draft.version
        }, metadata: agent.metadata
      ).renewal
      #expect(cancelled.documents.first?.sha256 == document.sha256)
      let read = await failure {
        _ = try await agent.renewals.getDocument(
          .with {
            $0.requestID = draft.requestID
            $0.documentID = document.documentID
          }, metadata: agent.metadata)
      }
      #expect(read?.code == .failedPrecondition)
      #expect(read?.reason == "DOCUMENT_PURGED")
      let stored = try await sqlite3(
        daemon.configuration.database.path, "SELECT length(content) FROM documents WHERE id = '\(document.documentID)'")
      #expect(stored.trimmingCharacters(in: .whitespacesAndNewlines) == "0", "the bytes are gone from the database")
      #expect(try await daemon.application.store.verifyAuditTrail().intact)
    }
  }

  @Test(
    "an ended request keeps its documents retention.documentDays, then the sweep deletes their content with an audit event; expired sessions and old idempotency keys go too"
  )
  func sweep() async throws {
    try await withAcademy(configure: { $0.retention.documentDays = 90 }) { daemon, client in
      let agent = try await TestCaller.session(client, "ens1a")
      let request = try await agent.startAndSubmit(.software)
      let n1 = try await TestCaller.session(client, "ien1")
      _ = try await n1.approvals.reject(
        .with {
          $0.requestID = request.requestID
          $0.reason = "no"
          $0.expectedVersion = request.version
        }, metadata: n1.metadata)
      let document = try #require(request.documents.first)
      let sweeper = RetentionSweep(
        store: daemon.application.store, retention: daemon.configuration.retention, clock: daemon.application.clock,
        logger: daemon.application.logger)
      let now = daemon.application.clock()
      #expect(try await sweeper.sweep(now: now.adding(seconds: 89 * 86_400)).documents == 0)
      _ = try await agent.renewals.getDocument(
        .with {
          $0.requestID = request.requestID
          $0.documentID = document.documentID
        }, metadata: agent.metadata)
      try await daemon.application.store.saveSession(
        StoredSession(
          tokenHash: daemon.authentication.sessions.hash("old"), uid: "ens1a", createdAt: now.adding(seconds: -7200),
          expiresAt: now.adding(seconds: -60)))
      let keyed = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .hardware
          $0.motif = .expired
          $0.idempotencyKey = "k-old"
        }, metadata: agent.metadata
      ).renewal
      let swept = try await sweeper.sweep(now: now.adding(seconds: 91 * 86_400))
      #expect(swept.documents == 1)
      #expect(swept.sessions >= 1)
      #expect(swept.idempotencyKeys >= 1, "a key older than retention.idempotencyKeyDays is gone")
      _ = keyed
      let read = await failure {
        _ = try await agent.renewals.getDocument(
          .with {
            $0.requestID = request.requestID
            $0.documentID = document.documentID
          }, metadata: agent.metadata)
      }
      #expect(read?.reason == "DOCUMENT_PURGED")
      #expect(try await agent.get(request.requestID).history.last?.action == "purge-documents")
      #expect(try await daemon.application.store.verifyAuditTrail().intact)
    }
  }

  @Test("support sees the size of each table and of the database file")
  func sizes() async throws {
    try await withAcademy { _, client in
      _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.hardware)
      let support = try await TestCaller.session(client, "helpdesk1")
      let stats = try await support.support.stats(.init(), metadata: support.metadata)
      let renewals = try #require(stats.tables.first { $0.name == "renewals" })
      #expect(renewals.rows == 1)
      #expect(renewals.bytes > 0)
      #expect(
        Set(stats.tables.map(\.name)).isSuperset(of: [
          "audit_events", "documents", "outbox", "sessions", "idempotency_keys",
        ]))
      #expect(stats.databaseBytes > 0)
    }
  }
}
