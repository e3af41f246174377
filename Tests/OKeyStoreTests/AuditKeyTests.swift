import Foundation
import OKeyDomain
import OKeyTestSupport
import Testing

@testable import OKeyStore

/// The audit key: what a person with write access to the database file cannot forge.
@Suite("audit trail signed with a key kept outside the database")
struct AuditKeyTests {
  let key = AuditKey(bytes: Array(repeating: 0x5A, count: 32))

  /// Rewrites event `sequence`'s details and re-chains every hash after it, as someone with the
  /// database file but without the key would.
  func forge(_ path: String, sequence: Int64, details: String) async throws {
    let store = try SQLiteRenewalStore(path: path)
    let events =
      try await store.history(renewalID: "r-ben") + (try await store.history(renewalID: "r-cid"))
      + (try await store.history(renewalID: "r-ann"))
    let ordered = events.sorted { $0.sequence < $1.sequence }
    var previous = try #require(ordered.first { $0.sequence == sequence - 1 }).hash
    var sql = ""
    for stored in ordered where stored.sequence >= sequence {
      var event = stored.event
      if stored.sequence == sequence { event.details = details }
      let stateHash = try await sqlite3(path, "SELECT state_hash FROM audit_events WHERE sequence = \(stored.sequence)")
        .trimmingCharacters(in: .whitespacesAndNewlines)
      let hash = AuditChainRules.hash(
        previous: previous, sequence: stored.sequence, renewalID: stored.renewalID, event: event, stateHash: stateHash)
      sql +=
        "UPDATE audit_events SET details = '\(event.details)', prev_hash = '\(previous)', hash = '\(hash)' WHERE sequence = \(stored.sequence);"
      previous = hash
    }
    sql += "UPDATE audit_head SET last_hash = '\(previous)';"
    _ = try await sqlite3(path, sql)
  }

  @Test("an event rewritten and the chain re-hashed without the key is found; without the key the forgery would pass")
  func forgedChain() async throws {
    try await withTemporaryDirectory { folder in
      let path = folder + "/okey.sqlite"
      let store = try SQLiteRenewalStore(path: path, auditKey: key)
      for uid in ["ann", "ben", "cid"] {
        var r = try await start(store, uid)
        r = try await apply(store, r, .addDocument(id: "d-\(uid)", pdfDocument, sha256: "0"), by: Caller(uid: uid))
        try await apply(store, r, .submit, by: Caller(uid: uid))
      }
      let clean = try await store.verifyAuditTrail()
      #expect(clean.intact && clean.keyed && clean.eventsChecked == 9 && clean.requestsChecked == 3)
      try await forge(path, sequence: 5, details: "approved by nobody")
      let keyed = try await SQLiteRenewalStore(path: path, auditKey: key).verifyAuditTrail()
      #expect(keyed.problems.map(\.kind) == Array(repeating: .altered, count: 5), "\(keyed.problems)")
      #expect(keyed.problems.first?.sequence == 5)
      let unkeyed = try await SQLiteRenewalStore(path: path).verifyAuditTrail()
      #expect(unkeyed.intact && !unkeyed.keyed, "the hash chain alone does not catch a re-hashed forgery: the key does")
      let otherKey = try await SQLiteRenewalStore(path: path, auditKey: AuditKey(bytes: Array(repeating: 1, count: 32)))
        .verifyAuditTrail()
      #expect(
        otherKey.problems.contains { $0.kind == .altered && $0.sequence == 0 || $0.sequence == 9 },
        "another key verifies nothing")
    }
  }

  @Test(
    "a chain written before the key existed is verified with its old rule up to the migration point, and that point cannot be moved"
  )
  func legacyChain() async throws {
    try await withTemporaryDirectory { folder in
      let path = folder + "/okey.sqlite"
      try SQLiteRenewalStore.migrate(path: path, upTo: "v5-outbox-delivery")
      // Three events as the previous version wrote them: no state hash, no signature.
      var previous = AuditChain.genesis
      var sql = ""
      for sequence in Int64(1)...3 {
        let event = RenewalEvent(
          action: "start", actor: "old-\(sequence)", onBehalfOf: nil, role: .agent, from: nil, to: .draft,
          details: "legacy",
          at: base.adding(seconds: sequence))
        let hash = AuditChainRules.hash(
          previous: previous, sequence: sequence, renewalID: "legacy-\(sequence)", event: event, stateHash: nil)
        sql += """
          INSERT INTO audit_events (sequence, renewal_id, at, actor, role, action, to_status, details, prev_hash, hash)
          VALUES (\(sequence), 'legacy-\(sequence)', \(event.at.millisecondsSinceEpoch), '\(event.actor)', 'AGENT', 'start', 'DRAFT', 'legacy', '\(previous)', '\(hash)');
          """
        previous = hash
      }
      sql += "INSERT INTO audit_head (id, last_sequence, last_hash) VALUES (1, 3, '\(previous)');"
      _ = try await sqlite3(path, sql)

      let store = try SQLiteRenewalStore(path: path, auditKey: key)
      #expect(try await store.appliedMigrations().contains("v6-audit-seal"))
      try await start(store, "dan")
      let migrated = try await store.verifyAuditTrail()
      #expect(migrated.intact, "\(migrated.problems)")
      #expect(migrated.eventsChecked == 4)

      _ = try await sqlite3(path, "UPDATE audit_events SET actor = 'mallory' WHERE sequence = 2")
      #expect(try await store.verifyAuditTrail().problems.map(\.kind) == [.altered])
      // Moving the boundary past event 4 and rewriting event 4 as an unsigned legacy event would
      // pass every hash: the key's seal on the boundary is what tells.
      _ = try await sqlite3(path, "UPDATE audit_events SET actor = 'old-2' WHERE sequence = 2")
      let fourth = try #require(try await store.history(renewalID: "r-dan").last)
      let legacyHash = AuditChainRules.hash(
        previous: fourth.previousHash, sequence: 4, renewalID: "r-dan", event: fourth.event, stateHash: nil)
      _ = try await sqlite3(
        path,
        "UPDATE audit_meta SET legacy_until = 4; UPDATE audit_events SET hash = '\(legacyHash)', state_hash = NULL, mac = NULL WHERE sequence = 4; UPDATE audit_head SET last_hash = '\(legacyHash)'"
      )
      let moved = try await SQLiteRenewalStore(path: path, auditKey: key).verifyAuditTrail().problems
      #expect(moved.map(\.kind) == [.altered], "\(moved)")
      #expect(moved.first?.sequence == 4)
    }
  }
}
