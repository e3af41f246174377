import ArgumentParser
import Foundation
import OKeyClient

// The commands of support staff: requests, routing, keys, audit trail, outbox, figures.

extension Okey {
  struct Routing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show who validates a person's requests, as the directory says now (support).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The person's uid.") var uid: String
    func run() async throws {
      let routing = try await withClient(connection) { try await $0.routing(uid: uid) }
      if connection.json {
        try printJSON(routing)
        return
      }
      func describe(_ person: Person?, _ foundBy: String) -> String {
        guard let person else { return "-" }
        let state = person.active ? "" : " (disabled)"
        return "\(person.uid) \(person.displayName)\(state) — \(foundBy)"
      }
      var rows: [[String]] = [
        ["person", "\(routing.requester.uid) \(routing.requester.displayName)"],
        ["N+1", describe(routing.n1, routing.n1FoundBy)],
        ["N+2", describe(routing.n2, routing.n2FoundBy)],
        ["validator", routing.effectiveValidator?.uid ?? "-"],
        ["first degree", routing.firstDegree ? "yes" : "no"],
        ["director", routing.schoolDirector ? "yes" : "no"],
        ["ONDE delegation", routing.ondeDelegation ? "yes" : "no"],
        ["automatic", routing.autoValidated ? "yes: \(routing.autoValidationReason)" : "no"],
      ]
      for problem in routing.problems { rows.append(["problem", "\(problem.code): \(problem.message)"]) }
      for row in rows { print(row[0].padding(toLength: 15, withPad: " ", startingAt: 0) + "  " + row[1]) }
    }
  }

  struct Keys: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The key inventory: a person's keys (support), keys existing outside OKEY recorded (DSI).",
      subcommands: [Show.self, Import.self], defaultSubcommand: Show.self)
  }

  struct Import: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record keys that exist outside OKEY (DSI), from a CSV file: serial,type,uid,activation date.",
      discussion: """
        One key a line: serial,HARDWARE|SOFTWARE,uid,YYYY-MM-DD (a first line starting with 'serial' is a header). Idempotent: a key already recorded for the same person is UNCHANGED. Prints one line per key (RECORDED, UNCHANGED or REFUSED with the reason); exits 65 when any key was refused.
        """)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The CSV file.") var file: String
    func run() async throws {
      guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
        throw ValidationError("cannot read \(file)")
      }
      var lines: [(number: Int, fields: [String])] = []
      for (number, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
        let trimmed = line.trimmingCharacters(in: .whitespacesAndNewlines)
        if trimmed.isEmpty || (number == 0 && trimmed.lowercased().hasPrefix("serial")) { continue }
        let fields = trimmed.split(separator: ",", omittingEmptySubsequences: false).map {
          $0.trimmingCharacters(in: .whitespaces)
        }
        lines.append((number + 1, fields))
      }
      guard !lines.isEmpty else { throw ValidationError("\(file) holds no key") }
      let keys = lines.map { line -> ExistingKey in
        let fields = line.fields + Array(repeating: "", count: max(0, 4 - line.fields.count))
        return ExistingKey(
          serial: fields[0], keyType: KeyType(rawValue: fields[1].uppercased()), uid: fields[2],
          activatedAt: parseTime(fields[3].count == 10 ? fields[3] + "T00:00:00Z" : fields[3]))
      }
      let results = try await withClient(connection) { try await $0.importKeys(keys) }
      if connection.json {
        try printJSON(results)
      } else {
        printTable(
          [["LINE", "SERIAL", "OUTCOME", "REASON"]]
            + results.map { ["\(lines[$0.index].number)", $0.serial, $0.outcome, $0.reason.isEmpty ? "-" : $0.reason] })
      }
      if results.contains(where: { $0.outcome == "REFUSED" }) { throw ExitCode(65) }
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List a person's keys, active and replaced (support).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The person's uid.") var uid: String
    func run() async throws {
      let keys = try await withClient(connection) { try await $0.keys(uid: uid) }
      if connection.json {
        try printJSON(keys)
        return
      }
      printTable(
        [["SERIAL", "TYPE", "STATUS", "ACTIVATED", "REPLACED", "REQUEST"]]
          + keys.map {
            [
              $0.serial, $0.keyType.rawValue, $0.active ? "ACTIVE" : "REPLACED", short($0.activatedAt),
              $0.replacedAt.map(short) ?? "-", $0.requestID.isEmpty ? "-" : $0.requestID,
            ]
          })
    }
  }

  struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Audit trail commands (support).", subcommands: [Verify.self, Head.self])
    struct Verify: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Verify the audit trail (chain, signatures, every request's state); exits 65 when it is broken.",
        discussion:
          "Give the head printed earlier by `okey audit head` (--head-sequence and --head-hash) to detect a chain cut after it."
      )
      @OptionGroup var connection: ConnectionOptions
      @Option(help: "Sequence of a head exported earlier.") var headSequence: Int64?
      @Option(help: "Hash of that head.") var headHash: String?
      func run() async throws {
        var expected: AuditHeadInfo?
        if let headSequence, let headHash { expected = AuditHeadInfo(sequence: headSequence, hash: headHash, at: nil) }
        let report = try await withClient(connection) { try await $0.verifyAuditTrail(expectedHead: expected) }
        if connection.json {
          try printJSON(report)
        } else {
          let signed = report.keyed ? "signatures checked" : "NOT signed (okeyd has no audit key)"
          print(
            report.intact
              ? "intact: \(report.eventsChecked) events and \(report.requestsChecked) requests checked, \(signed)"
              : "BROKEN after \(report.eventsChecked) events:")
          for problem in report.problems { print("  \(problem)") }
        }
        if !report.intact { throw ExitCode(ExitStatus.refused) }
      }
    }
    struct Head: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract:
          "Print the audit chain's head (sequence, hash, time): keep it outside OKEY for `okey audit verify --head-sequence --head-hash`."
      )
      @OptionGroup var connection: ConnectionOptions
      func run() async throws {
        let head = try await withClient(connection) { try await $0.auditHead() }
        if connection.json {
          try printJSON(head)
          return
        }
        print("\(head.sequence) \(head.hash) \(head.at.map(short) ?? "-")")
      }
    }
  }

  struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Notification messages (support).", subcommands: [List.self])
    struct List: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "List outbox messages in a state: DEAD (default, given up), PENDING, SENDING or SENT.")
      @OptionGroup var connection: ConnectionOptions
      @Option(help: "DEAD, PENDING, SENDING or SENT.") var state = "DEAD"
      @Option(help: "Most messages to list.") var limit = 50
      func run() async throws {
        let entries = try await withClient(connection) { try await $0.outbox(state: state, limit: limit) }
        if connection.json {
          try printJSON(entries)
          return
        }
        printTable(
          [["ID", "REQUEST", "KIND", "TO", "STATE", "ATTEMPTS", "LAST ERROR"]]
            + entries.map {
              [
                "\($0.id)", $0.requestID, $0.kind, $0.recipientMail, $0.state, "\($0.attempts)",
                $0.lastError.isEmpty ? "-" : $0.lastError,
              ]
            })
      }
    }
  }

  struct Report: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "The figures of the requests started in a period (support): counts, step times, late requests.",
      discussion: """
        Counts by status, motif, key type and establishment (UAI); the median and 90th percentile of each step (submitted to decided, decided to elements confirmed, charter to finalised, ready to handed over); the open requests that have waited --late-after business days or more, with who must act. --csv writes one line per figure: section,key,count,median_seconds,p90_seconds.
        """)
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Start of the period, YYYY-MM-DD or ISO 8601.") var from: String
    @Option(help: "End of the period (excluded), YYYY-MM-DD or ISO 8601.") var to: String
    @Option(help: "Business days after which an open request is late (default 5).") var lateAfter = 0
    @Flag(help: "CSV instead of tables.") var csv = false

    func run() async throws {
      func date(_ text: String, _ name: String) throws -> Date {
        guard let date = parseTime(text.count == 10 ? text + "T00:00:00Z" : text) else {
          throw ValidationError("--\(name): a date, YYYY-MM-DD or ISO 8601")
        }
        return date
      }
      let start = try date(from, "from")
      let end = try date(to, "to")
      let report = try await withClient(connection) {
        try await $0.report(from: start, to: end, lateAfterBusinessDays: lateAfter)
      }
      if connection.json {
        try printJSON(report)
        return
      }
      let sections: [(String, [String: Int])] = [
        ("status", report.byStatus), ("motif", report.byMotif), ("key type", report.byKeyType),
        ("establishment", report.byEstablishment),
      ]
      if csv {
        print("section,key,count,median_seconds,p90_seconds")
        print("requests,all,\(report.requests),,")
        for (section, values) in sections {
          for (key, count) in values.sorted(by: { $0.key < $1.key }) { print("\(section),\(key),\(count),,") }
        }
        for time in report.stepTimes {
          print("step,\(time.step),\(time.count),\(time.medianSeconds),\(time.p90Seconds)")
        }
        for late in report.late { print("late,\(late.requestID),\(late.businessDays),,") }
        return
      }
      print("requests started: \(report.requests)")
      for (section, values) in sections {
        printTable(
          [[section.uppercased(), "COUNT"]] + values.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] })
      }
      printTable(
        [["STEP", "COUNT", "MEDIAN", "P90"]]
          + report.stepTimes.map {
            [$0.step, "\($0.count)", Self.duration($0.medianSeconds), Self.duration($0.p90Seconds)]
          })
      printTable(
        [["LATE REQUEST", "AGENT", "STATUS", "SINCE", "BUSINESS DAYS", "WAITS FOR"]]
          + report.late.map {
            [
              $0.requestID, $0.agentUID, $0.status.rawValue, short($0.since), "\($0.businessDays)",
              $0.waitingFor + ($0.people.isEmpty ? "" : " " + $0.people.joined(separator: ", ")),
            ]
          })
    }

    static func duration(_ seconds: Int64) -> String {
      seconds >= 86_400
        ? "\(seconds / 86_400) d \(seconds % 86_400 / 3600) h"
        : seconds >= 3600 ? "\(seconds / 3600) h \(seconds % 3600 / 60) min" : "\(seconds / 60) min \(seconds % 60) s"
    }
  }

  struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Request counts per status, directory cache figures, and the size of each table and of the database (support).")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let stats = try await withClient(connection) { try await $0.stats() }
      if connection.json {
        try printJSON(stats)
        return
      }
      printTable(
        [["STATUS", "REQUESTS"]] + stats.renewalsByStatus.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] })
      print(
        "directory cache: \(stats.directoryCacheHits) hits, \(stats.directoryCacheMisses) misses; outbox: \(stats.outboxPending) pending, \(stats.outboxDead) dead"
      )
      print("")
      printTable([["TABLE", "ROWS", "BYTES"]] + stats.tables.map { [$0.name, "\($0.rows)", "\($0.bytes)"] })
      print("database file: \(stats.databaseBytes) bytes; write-ahead log: \(stats.walBytes) bytes")
    }
  }
}

struct Requests: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "For support: search and read any request.",
    subcommands: [Search.self, Show.self, Explain.self, History.self])

  struct Explain: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "What a request waits for: its step, who must act, since when, its last events, the agent's last mail.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var id: String
    func run() async throws {
      let explanation = try await withClient(connection) { try await $0.explain(requestID: id) }
      if connection.json {
        try printJSON(explanation)
        return
      }
      let who = explanation.people.map { "\($0.uid) (\($0.displayName.isEmpty ? "-" : $0.displayName))" }
      printTable([
        ["request", explanation.renewal.id], ["status", explanation.renewal.status.rawValue],
        ["waits for", explanation.waitingFor + (who.isEmpty ? "" : ": " + who.joined(separator: ", "))],
        ["step", explanation.step], ["since", short(explanation.since)],
        [
          "agent last told",
          explanation.lastMessageToAgent.map { "\($0.kind) on \(short($0.createdAt)) (\($0.state))" } ?? "nothing yet",
        ],
      ])
      print("last events:")
      printTable(
        [["AT", "ACTOR", "ACTION", "TO", "DETAILS"]]
          + explanation.lastEvents.map { [short($0.at), $0.actor, $0.action, $0.to.rawValue, $0.details] })
    }
  }

  struct Search: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Search requests, newest first.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Only this agent's requests.") var agent = ""
    @Option(help: "Only these statuses (repeatable).") var status: [RenewalStatus] = []
    @Option(help: "Only requests naming this approver.") var approver = ""
    @Option(help: "Requests per page (at most 100).") var pageSize = 20
    @Option(help: "The token a previous page printed.") var pageToken = ""
    func run() async throws {
      let page = try await withClient(connection) {
        try await $0.searchRenewals(
          agentUID: agent, statuses: status, approverUID: approver, pageSize: pageSize, pageToken: pageToken)
      }
      try show(page.renewals, nextPageToken: page.nextPageToken, json: connection.json)
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show any request; with --history, its audit history too.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    @Flag(help: "Show the request's audit history (with --json: the history alone).") var history = false
    func run() async throws {
      let renewal = try await withClient(connection) { try await $0.supportRenewal(requestID) }
      if history {
        if connection.json { try printJSON(renewal.history) } else { try show(renewal, json: false, history: true) }
      } else {
        try show(renewal, json: connection.json)
      }
    }
  }

  /// The former spelling of `requests show --history`, kept for scripts.
  struct History: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Same as `requests show --history`.", shouldDisplay: false)
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    func run() async throws {
      var show = Show()
      show.connection = connection
      show.requestID = requestID
      show.history = true
      try await show.run()
    }
  }
}
