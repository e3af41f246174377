import ArgumentParser
import Foundation
import OKeyClient

/// The okey command-line client for support staff, approvers, the DSI and scripts.
@main
struct Okey: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "okey",
    abstract: "Query and drive the OKEY key-renewal service (okeyd).",
    discussion: """
      The server comes from --server, else OKEY_SERVER, else 127.0.0.1:50051. The token comes from
      OKEY_TOKEN, else the file `okey login` writes ($XDG_CONFIG_HOME/okey/token, mode 0600). A
      service-account key in OKEY_TOKEN acts for a person with --on-behalf-of UID.

      Exit codes: 0 done; 1 other failure; 3 server not serving; 64 usage error; 65 refused input or
      state; 66 not found; 69 server or directory unavailable; 77 not authenticated or not allowed.
      """,
    subcommands: [
      Health.self, Login.self, Logout.self, WhoAmI.self, RenewalCommands.self, Approvals.self, Ops.self, Slots.self,
      CharterCommands.self, Requests.self, Routing.self, Keys.self, Audit.self, Stats.self, Outbox.self,
    ]
  )
}

extension Okey {
  struct Health: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the serving status of okeyd (gRPC health check).",
      discussion: "Prints SERVING, NOT_SERVING or UNKNOWN. Exits 0 when SERVING, 3 otherwise.")
    @OptionGroup var connection: ConnectionOptions
    @Option(name: .long, help: "A full service name to check, e.g. okey.v1.RenewalService (default: the whole server).")
    var service: String = ""

    func run() async throws {
      let status = try await withClient(connection) { try await $0.servingStatus(of: service) }
      print(status.rawValue)
      if status != .serving { throw ExitCode(ExitStatus.notServing) }
    }
  }

  struct Login: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Log in with your directory password and keep the session token for the next commands.",
      discussion: "Asks for the password without echo (or reads one line from standard input with --password-stdin). The token is written to $XDG_CONFIG_HOME/okey/token with mode 0600; --print-token prints it instead, for OKEY_TOKEN.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "Your directory login (uid).") var uid: String
    @Flag(help: "Read the password from standard input (for scripts).") var passwordStdin = false
    @Flag(help: "Print the token on standard output instead of writing the token file.") var printToken = false

    func run() async throws {
      let password = try readPassword(fromStandardInput: passwordStdin)
      let result = try await withClient(connection) { try await $0.login(uid: uid, password: password) }
      if printToken {
        print(result.token)
      } else {
        try TokenFile.write(result.token)
        if connection.json { try printJSON(result.principal) } else {
          print("logged in as \(result.principal.uid) (\(result.principal.roles.joined(separator: ", "))) until \(short(result.expiresAt))")
        }
      }
    }
  }

  struct Logout: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "End the session on the server, then forget the token `okey login` kept.",
      discussion: """
        The token stops working at once. When the server cannot be reached the local token is
        still forgotten, and okey says that the session stays valid on the server until it expires.
        """)
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let settings = try connection.settings(requireToken: false)
      guard settings.token != nil else {
        print("not logged in")
        return
      }
      // The kept token goes whatever the server says; a token from $OKEY_TOKEN is not ours to delete.
      defer { if settings.token == TokenFile.read() { TokenFile.remove() } }
      do {
        let uid = try await OKeyClient.with(settings) { try await $0.logout() }
        print("logged out: the session of \(uid) has ended")
      } catch let error as OKeyClientError where error.kind == .unauthenticated {
        print("the session had already ended")
      } catch let error as OKeyClientError {
        if error.kind == .unavailable {
          FileHandle.standardError.write(Data("okey: the session could not be ended on the server and stays valid until it expires\n".utf8))
        }
        throw ExitStatus.report(error)
      }
    }
  }

  struct WhoAmI: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "whoami", abstract: "Show who the current token makes you, with your roles.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let principal = try await withClient(connection) { try await $0.whoAmI() }
      if connection.json { try printJSON(principal) } else {
        let who = principal.uid.isEmpty ? "(nobody)" : principal.uid
        let via = principal.serviceAccount.isEmpty ? "" : " via \(principal.serviceAccount)"
        print("\(who) \(principal.displayName) roles: \(principal.roles.joined(separator: ", "))\(via)")
      }
    }
  }

  struct Routing: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Show who validates a person's requests, as the directory says now (support).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The person's uid.") var uid: String
    func run() async throws {
      let routing = try await withClient(connection) { try await $0.routing(uid: uid) }
      if connection.json { try printJSON(routing); return }
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
    static let configuration = CommandConfiguration(abstract: "List a person's keys, active and replaced (support).")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The person's uid.") var uid: String
    func run() async throws {
      let keys = try await withClient(connection) { try await $0.keys(uid: uid) }
      if connection.json { try printJSON(keys); return }
      printTable([["SERIAL", "TYPE", "STATUS", "ACTIVATED", "REPLACED", "REQUEST"]] + keys.map {
        [$0.serial, $0.keyType.rawValue, $0.active ? "ACTIVE" : "REPLACED", short($0.activatedAt), $0.replacedAt.map(short) ?? "-", $0.requestID.isEmpty ? "-" : $0.requestID]
      })
    }
  }

  struct Audit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Audit trail commands (support).", subcommands: [Verify.self, Head.self])
    struct Verify: AsyncParsableCommand {
      static let configuration = CommandConfiguration(
        abstract: "Verify the audit trail (chain, signatures, every request's state); exits 65 when it is broken.",
        discussion: "Give the head printed earlier by `okey audit head` (--head-sequence and --head-hash) to detect a chain cut after it.")
      @OptionGroup var connection: ConnectionOptions
      @Option(help: "Sequence of a head exported earlier.") var headSequence: Int64?
      @Option(help: "Hash of that head.") var headHash: String?
      func run() async throws {
        var expected: AuditHeadInfo?
        if let headSequence, let headHash { expected = AuditHeadInfo(sequence: headSequence, hash: headHash, at: nil) }
        let report = try await withClient(connection) { try await $0.verifyAuditTrail(expectedHead: expected) }
        if connection.json { try printJSON(report) } else {
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
        abstract: "Print the audit chain's head (sequence, hash, time): keep it outside OKEY for `okey audit verify --head-sequence --head-hash`.")
      @OptionGroup var connection: ConnectionOptions
      func run() async throws {
        let head = try await withClient(connection) { try await $0.auditHead() }
        if connection.json { try printJSON(head); return }
        print("\(head.sequence) \(head.hash) \(head.at.map(short) ?? "-")")
      }
    }
  }

  struct Outbox: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Notification messages (support).", subcommands: [List.self])
    struct List: AsyncParsableCommand {
      static let configuration = CommandConfiguration(abstract: "List outbox messages in a state: DEAD (default, given up), PENDING, SENDING or SENT.")
      @OptionGroup var connection: ConnectionOptions
      @Option(help: "DEAD, PENDING, SENDING or SENT.") var state = "DEAD"
      @Option(help: "Most messages to list.") var limit = 50
      func run() async throws {
        let entries = try await withClient(connection) { try await $0.outbox(state: state, limit: limit) }
        if connection.json { try printJSON(entries); return }
        printTable([["ID", "REQUEST", "KIND", "TO", "STATE", "ATTEMPTS", "LAST ERROR"]] + entries.map {
          ["\($0.id)", $0.requestID, $0.kind, $0.recipientMail, $0.state, "\($0.attempts)", $0.lastError.isEmpty ? "-" : $0.lastError]
        })
      }
    }
  }

  struct Stats: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Request counts per status, directory cache figures, and the size of each table and of the database (support).")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let stats = try await withClient(connection) { try await $0.stats() }
      if connection.json { try printJSON(stats); return }
      printTable([["STATUS", "REQUESTS"]] + stats.renewalsByStatus.sorted { $0.key < $1.key }.map { [$0.key, "\($0.value)"] })
      print("directory cache: \(stats.directoryCacheHits) hits, \(stats.directoryCacheMisses) misses; outbox: \(stats.outboxPending) pending, \(stats.outboxDead) dead")
      print("")
      printTable([["TABLE", "ROWS", "BYTES"]] + stats.tables.map { [$0.name, "\($0.rows)", "\($0.bytes)"] })
      print("database file: \(stats.databaseBytes) bytes; write-ahead log: \(stats.walBytes) bytes")
    }
  }
}
