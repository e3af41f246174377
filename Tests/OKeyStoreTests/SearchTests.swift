import Foundation
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@Suite("store contract: searches read a page from an index, on SQLite and on PostgreSQL")
struct SearchTests {
  @Test(
    "a summary page lists the same requests, in the same order and pages, as the full search, with the same values",
    arguments: StoreKind.allCases)
  func summariesMatchTheFullSearch(kind: StoreKind) async throws {
    try await withStore(kind, durability: .normal) { s in
      let store = s.store
      for index in 0..<12 {
        try await start(store, "user\(index)", keyType: index % 3 == 0 ? .software : .hardware, at: Int64(index))
      }
      // Some requests move on: routed, approved, versions and update times change.
      for index in [2, 5, 7] { _ = try await readyForPickup(store, "late\(index)") }
      var shapes: [RenewalQuery] = [RenewalQuery()]
      var software = RenewalQuery()
      software.keyType = .software
      var statuses = RenewalQuery()
      statuses.statuses = [.draft, .readyForPickup]
      var approver = RenewalQuery()
      approver.approverUID = "bigboss"
      var agent = RenewalQuery()
      agent.agentUID = "late5"
      var routed = RenewalQuery()
      routed.routedOnly = true
      var oldest = RenewalQuery()
      oldest.order = .oldestFirst
      shapes += [software, statuses, approver, agent, routed, oldest]
      for shape in shapes {
        var full = shape
        full.limit = 4
        var summary = full
        repeat {
          let page = try await store.search(full)
          let summaries = try await store.searchSummaries(summary)
          #expect(summaries.next == page.next, "\(shape)")
          #expect(summaries.summaries.count == page.renewals.count, "\(shape)")
          for (listed, renewal) in zip(summaries.summaries, page.renewals) {
            #expect(
              listed
                == RenewalSummary(
                  id: renewal.id, agentUID: renewal.agentUID, keyType: renewal.keyType, status: renewal.status,
                  version: renewal.version, n1UID: renewal.routing.n1?.person.uid,
                  n2UID: renewal.routing.n2?.person.uid, routed: renewal.routed, createdAt: renewal.createdAt,
                  updatedAt: renewal.updatedAt), "\(shape)")
          }
          full.after = page.next
          summary.after = summaries.next
        } while full.after != nil
      }
      var ready = RenewalQuery()
      ready.statuses = [.readyForPickup]
      #expect(try await store.searchSummaries(ready).summaries.map(\.agentUID).sorted() == ["late2", "late5", "late7"])
    }
  }

  @Test(
    "every search shape walks an index, and a list (no filter, an agent, a status, the next page) reads it in order without sorting"
  )
  func queryPlans() async throws {
    try await withStore(durability: .normal) { store, _ in
      for index in 0..<30 { try await start(store, "user\(index)", at: Int64(index)) }
      let cursor = RenewalCursor(createdAt: base.adding(seconds: 10), id: "r-user10")
      var shapes: [(name: String, query: RenewalQuery, inOrder: Bool, seeks: String?)] = []
      /// `seeks`: the filter an index must find directly (a SEARCH), not by walking every row.
      func shape(_ name: String, inOrder: Bool, seeks: String? = nil, _ set: (inout RenewalQuery) -> Void) {
        var query = RenewalQuery()
        set(&query)
        shapes.append((name, query, inOrder, seeks))
      }
      shape("everything, newest first", inOrder: true) { _ in }
      shape("everything, oldest first", inOrder: true) { $0.order = .oldestFirst }
      shape("the next page", inOrder: true) { $0.after = cursor }
      shape("an agent's requests", inOrder: true, seeks: "agent_uid=?") { $0.agentUID = "user3" }
      shape("an agent's next page", inOrder: true, seeks: "agent_uid=?") {
        $0.agentUID = "user3"
        $0.after = cursor
      }
      shape("one status", inOrder: true, seeks: "status=?") { $0.statuses = [.pendingApproval] }
      shape("one status, next page", inOrder: true, seeks: "status=?") {
        $0.statuses = [.pendingApproval]
        $0.after = cursor
      }
      shape("several statuses", inOrder: false, seeks: "status=?") { $0.statuses = [.pendingApproval, .awaitingDSI] }
      shape("an approver's requests", inOrder: false, seeks: "n1_uid=?") { $0.approverUID = "bigboss" }
      shape("an approver's pending requests", inOrder: false, seeks: "status=?") {
        $0.approverUID = "bigboss"
        $0.statuses = [.pendingApproval]
      }
      shape("started in a window", inOrder: true) {
        $0.createdAfter = base
        $0.createdBefore = base.adding(seconds: 20)
      }
      shape("a key type", inOrder: true) { $0.keyType = .software }
      var problems: [String] = []
      for (name, query, inOrder, seeks) in shapes {
        let plan = try await store.searchPlan(query)
        let text = plan.joined(separator: " | ")
        // A bare SCAN reads the whole table; SCAN … USING INDEX walks an index in order.
        if plan.contains(where: { $0.hasPrefix("SCAN renewals") && !$0.contains("USING") }) {
          problems.append("\(name) scans the table: \(text)")
        }
        if let seeks, !plan.contains(where: { $0.hasPrefix("SEARCH renewals") && $0.contains(seeks) }) {
          problems.append("\(name) does not seek \(seeks) in an index: \(text)")
        }
        if inOrder && plan.contains(where: { $0.contains("TEMP B-TREE FOR ORDER BY") }) {
          problems.append("\(name) sorts instead of reading an index in order: \(text)")
        }
      }
      #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
    }
  }
}
