import Foundation
import OKeyClient
import OKeyTestSupport
import Testing

/// Runs okey with `arguments` and returns its JSON output, failing the test on a non-zero exit.
struct OkeyCLI: Sendable {
  let server: String
  let configHome: String

  func run(_ arguments: [String], token: String? = nil, input: String? = nil) async throws -> (
    status: Int32, output: String, error: String
  ) {
    var environment = ["OKEY_SERVER": server, "XDG_CONFIG_HOME": configHome]
    environment["OKEY_TOKEN"] = token ?? ""
    return try await ChildProcess.run(TestPaths.executable("okey"), arguments, environment: environment, input: input)
  }

  func json(_ arguments: [String], token: String? = nil) async throws -> Any {
    let result = try await run(arguments + ["--json"], token: token)
    guard result.status == 0 else {
      throw ChildProcessError("okey \(arguments.joined(separator: " ")) exited \(result.status): \(result.error)")
    }
    return try JSONSerialization.jsonObject(with: Data(result.output.utf8))
  }

  func login(_ uid: String) async throws -> String {
    let result = try await run(
      ["login", uid, "--password-stdin", "--print-token"], input: SlapdFixture.personPassword + "\n")
    guard result.status == 0 else { throw ChildProcessError("login \(uid): \(result.error)") }
    return result.output.trimmingCharacters(in: .whitespacesAndNewlines)
  }
}

/// Starts slapd and an okeyd process configured for it, with the portal service account.
func withOKeydAndSlapd(qrCodes: Bool = false, _ body: (OkeyCLI) async throws -> Void) async throws {
  try await withSlapd { slapd in
    try await withTemporaryDirectory { folder in
      try String(repeating: "3c", count: 32).write(toFile: folder + "/enrolment.key", atomically: true, encoding: .utf8)
      let enrolment = qrCodes ? "enrolment:\n  mode: qr\n  codeKeyFile: \(folder)/enrolment.key\n" : ""
      let config =
        enrolment + """
          listen: 127.0.0.1:0
          database:
            path: \(folder)/okey.sqlite
          directory:
            uri: \(slapd.uri)
            bindPassword: \(SlapdFixture.servicePassword)
          serviceAccounts:
            - name: portal
              keySHA256: \(sha256Hex("portal-cli-key"))
          """
      try config.write(toFile: folder + "/okeyd.yaml", atomically: true, encoding: .utf8)
      let okeyd = try await OKeydProcess(
        arguments: ["--config", folder + "/okeyd.yaml"], environment: ["OKEY_LDAP_URI": slapd.uri])
      defer { okeyd.child.send(SIGKILL) }
      try FileManager.default.createDirectory(atPath: folder + "/config", withIntermediateDirectories: true)
      try await body(OkeyCLI(server: okeyd.address, configHome: folder + "/config"))
      _ = try await okeyd.terminate()
    }
  }
}

@Suite("okey CLI end to end", .serialized)
struct CLIProcedureTests {
  @Test("the whole hardware-key procedure driven through okey subprocesses, checked on their JSON")
  func hardwareProcedure() async throws {
    try await withOKeydAndSlapd { cli in
      let dsi = try await cli.login("dsi-op1")
      let ien = try await cli.login("ien1")
      let helpdesk = try await cli.login("helpdesk1")
      let portal = "portal-cli-key"
      let agent = ["--on-behalf-of", "ens1a"]

      try await withTemporaryDirectory { folder in
        try "Je garde ma clé pour moi.".write(toFile: folder + "/charter.txt", atomically: true, encoding: .utf8)
        try Data("%PDF-1.4\n%%EOF\n".utf8).write(to: URL(fileURLWithPath: folder + "/proof.pdf"))

        let charter =
          try await cli.json(
            ["charter", "publish", "--version", "2026-09", "--code", "4821", folder + "/charter.txt"], token: dsi)
          as? [String: Any]
        #expect(charter?["version"] as? String == "2026-09")
        let start = Date().addingTimeInterval(86_400).formatted(.iso8601)
        let slots =
          try await cli.json(
            ["slots", "publish", "--place", "rectorat", "--name", "Rectorat DSI", "--start", start, "--capacity", "2"],
            token: dsi) as? [[String: Any]]
        let slotID = try #require(slots?.first?["id"] as? String)

        // The reasons catalogue the agent's client shows before starting: text and JSON.
        let motifs = try await cli.run(["renewal", "motifs"] + agent, token: portal)
        #expect(motifs.status == 0, "\(motifs.error)")
        #expect(motifs.output.contains("stolen         theft-report\n"), "\(motifs.output)")
        #expect(motifs.output.contains("other          supporting-document  (--details required)"))
        let catalogue = try await cli.json(["renewal", "motifs"] + agent, token: portal) as? [String: Any]
        let lost = (catalogue?["motifs"] as? [[String: Any]])?.first { $0["motif"] as? String == "LOST" }
        #expect(lost?["requiredDocumentKinds"] as? [String] == ["loss-declaration"])

        var renewal =
          try await cli.json(
            ["renewal", "start", "--key-type", "hardware", "--motif", "expired"] + agent, token: portal)
          as? [String: Any]
        let id = try #require(renewal?["id"] as? String)
        #expect(renewal?["status"] as? String == "DRAFT")
        renewal =
          try await cli.json(
            ["renewal", "add-document", id, "--kind", "supporting-document", folder + "/proof.pdf"] + agent,
            token: portal) as? [String: Any]
        #expect((renewal?["documents"] as? [Any])?.count == 1)
        renewal = try await cli.json(["renewal", "submit", id] + agent, token: portal) as? [String: Any]
        #expect(renewal?["status"] as? String == "PENDING_APPROVAL")

        let pending = try await cli.json(["approvals", "list"], token: ien) as? [[String: Any]]
        #expect(pending?.compactMap { $0["id"] as? String } == [id])
        // The N+1 opens the evidence before deciding: the file written is the one uploaded.
        let documentID = try #require((renewal?["documents"] as? [[String: Any]])?.first?["id"] as? String)
        let saved = try await cli.run(
          ["approvals", "document", id, documentID, "-o", folder + "/evidence.pdf"], token: ien)
        #expect(saved.status == 0, "\(saved.error)")
        #expect(
          FileManager.default.contents(atPath: folder + "/evidence.pdf")
            == FileManager.default.contents(atPath: folder + "/proof.pdf"))
        let again = try await cli.run(
          ["approvals", "document", id, documentID, "-o", folder + "/evidence.pdf"], token: ien)
        #expect(again.status == 64, "an existing file is never overwritten: \(again.error)")
        renewal = try await cli.json(["approvals", "approve", id, "--comment", "ok"], token: ien) as? [String: Any]
        #expect(renewal?["status"] as? String == "AWAITING_CHARTER")

        renewal =
          try await cli.json(["renewal", "sign-charter", id, "--code", "4821", "--acknowledge"] + agent, token: portal)
          as? [String: Any]
        #expect(renewal?["status"] as? String == "AWAITING_DSI")
        let work = try await cli.json(["ops", "work"], token: dsi) as? [[String: Any]]
        #expect(work?.contains { $0["id"] as? String == id } == true)
        renewal =
          try await cli.json(["ops", "finalize", id, "--serial", "HW-CLI-1", "--place", "rectorat"], token: dsi)
          as? [String: Any]
        #expect(renewal?["status"] as? String == "READY_FOR_PICKUP")

        let free = try await cli.json(["renewal", "slots", id] + agent, token: portal) as? [[String: Any]]
        #expect(free?.first?["id"] as? String == slotID)
        renewal = try await cli.json(["renewal", "book", id, slotID] + agent, token: portal) as? [String: Any]
        #expect(renewal?["status"] as? String == "PICKUP_BOOKED")
        renewal = try await cli.json(["ops", "handover", id], token: dsi) as? [String: Any]
        #expect(renewal?["status"] as? String == "COMPLETED")

        let keys = try await cli.json(["keys", "ens1a"], token: helpdesk) as? [[String: Any]]
        #expect(keys?.first?["serial"] as? String == "HW-CLI-1")
        #expect(keys?.first?["active"] as? Bool == true)
        let history = try await cli.json(["requests", "show", "--history", id], token: helpdesk) as? [[String: Any]]
        #expect(history?.compactMap { $0["action"] as? String }.last == "record-handover")
        // The former spelling still works.
        let formerly = try await cli.json(["requests", "history", id], token: helpdesk) as? [[String: Any]]
        #expect(formerly?.count == history?.count)
        let audit = try await cli.json(["audit", "verify"], token: helpdesk) as? [String: Any]
        #expect(audit?["intact"] as? Bool == true)
        let routing = try await cli.json(["routing", "ens-clg"], token: helpdesk) as? [String: Any]
        #expect((routing?["n1"] as? [String: Any])?["uid"] as? String == "principal1")
      }
    }
  }

  @Test(
    "the OKEY book's other paths through okey: a collège key approved by the deputy, sent to the collège and handed over by the principal; a phone change whose QR code is read once as a PNG, then refused; scanned"
  )
  func bookPaths() async throws {
    try await withOKeydAndSlapd(qrCodes: true) { cli in
      let dsi = try await cli.login("dsi-op1")
      let principal = try await cli.login("principal1")
      let deputy = try await cli.login("adjoint1")
      let portal = "portal-cli-key"
      let agent = ["--on-behalf-of", "ens-clg"]
      func status(_ value: Any?) -> String? { (value as? [String: Any])?["status"] as? String }
      try await withTemporaryDirectory { folder in
        try "Je garde ma clé pour moi.".write(toFile: folder + "/charter.txt", atomically: true, encoding: .utf8)
        try Data("%PDF-1.4\n%%EOF\n".utf8).write(to: URL(fileURLWithPath: folder + "/proof.pdf"))
        _ = try await cli.json(
          ["charter", "publish", "--version", "2026-12", "--code", "7070", folder + "/charter.txt"], token: dsi)
        func submitted(_ keyType: String, _ motif: String) async throws -> String {
          let started =
            try await cli.json(["renewal", "start", "--key-type", keyType, "--motif", motif] + agent, token: portal)
            as? [String: Any]
          let id = try #require(started?["id"] as? String)
          _ = try await cli.json(
            ["renewal", "add-document", id, "--kind", "supporting-document", folder + "/proof.pdf"] + agent,
            token: portal)
          _ = try await cli.json(["renewal", "submit", id] + agent, token: portal)
          return id
        }

        // Hardware: the deputy approves, the key goes to the collège, the principal hands it over.
        let id = try await submitted("hardware", "expired")
        #expect(status(try await cli.json(["approvals", "approve", id], token: deputy)) == "AWAITING_CHARTER")
        _ = try await cli.json(
          ["renewal", "sign-charter", id, "--code", "7070", "--acknowledge"] + agent, token: portal)
        let ready = try await cli.json(["ops", "finalize", id, "--serial", "HW-CLI-1"], token: dsi) as? [String: Any]
        #expect(ready?["handoverEstablishment"] as? String == "9740100K")
        let waiting = try await cli.json(["approvals", "handovers"], token: principal) as? [[String: Any]]
        #expect(waiting?.compactMap { $0["id"] as? String } == [id])
        let shown = try await cli.run(["renewal", "show", id] + agent, token: portal)
        #expect(shown.output.contains("at establishment 9740100K, by its head (no appointment)"), "\(shown.output)")
        #expect(status(try await cli.json(["approvals", "hand-over", id], token: principal)) == "COMPLETED")

        // Phone change by QR code: the payload on standard input, the code read once.
        let phone = try await submitted("software", "phone-changed")
        _ = try await cli.json(["renewal", "platform", phone, "android"] + agent, token: portal)
        let attached = try await cli.run(
          ["ops", "attach-code", phone, "--json"], token: dsi,
          input: "otpauth://totp/ac-test:ens-clg?secret=CLICLICLI\n")
        #expect(attached.status == 0, "\(attached.error)")
        let read = try await cli.run(["renewal", "code", phone, "--png", folder + "/token.png"] + agent, token: portal)
        #expect(read.status == 0, "\(read.error)")
        let png = try #require(FileManager.default.contents(atPath: folder + "/token.png"))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let again = try await cli.run(
          ["renewal", "code", phone, "--png", folder + "/again.png"] + agent, token: portal)
        #expect(again.status == 65, "\(again.error)")
        #expect(again.error.contains("read already"), "\(again.error)")
        #expect(status(try await cli.json(["renewal", "scanned", phone] + agent, token: portal)) == "AWAITING_CHARTER")
      }
    }
  }

  @Test("a wrong password, a refused call and an unknown id each give one line and the documented exit code")
  func errors() async throws {
    try await withOKeydAndSlapd { cli in
      let wrong = try await cli.run(["login", "ens1a", "--password-stdin"], input: "not-my-password\n")
      #expect(wrong.status == 77)
      #expect(wrong.error == "okey: wrong uid or password\n")

      let token = try await cli.login("ens1b")
      let unknown = try await cli.run(["renewal", "show", UUID().uuidString.lowercased()], token: token)
      #expect(unknown.status == 66)
      #expect(unknown.error.split(separator: "\n").count == 1)
      #expect(unknown.error.hasPrefix("okey: no renewal request"))

      let denied = try await cli.run(["stats"], token: token)
      #expect(denied.status == 77)
      #expect(denied.error.hasPrefix("okey: "))

      let anonymous = try await cli.run(["renewal", "list"])
      #expect(anonymous.status == 77)

      // `okey login` keeps the token in a 0600 file used by the next commands.
      let login = try await cli.run(["login", "ens1b", "--password-stdin"], input: SlapdFixture.personPassword + "\n")
      #expect(login.status == 0)
      let file = cli.configHome + "/okey/token"
      let attributes = try FileManager.default.attributesOfItem(atPath: file)
      #expect((attributes[.posixPermissions] as? NSNumber)?.intValue == 0o600)
      let whoami = try await cli.run(["whoami"])
      #expect(whoami.output.hasPrefix("ens1b"))

      // `okey logout` ends the session on the server, not only the file: the old token is refused.
      let kept = try String(contentsOfFile: file, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
      let logout = try await cli.run(["logout"])
      #expect(logout.status == 0, "\(logout.error)")
      #expect(logout.output.contains("ens1b"))
      #expect(!FileManager.default.fileExists(atPath: file))
      let replayed = try await cli.run(["whoami"], token: kept)
      #expect(replayed.status == 77)
      #expect((try await cli.run(["logout"])).output.contains("not logged in"))
    }
  }

  @Test("okey renewal watch prints each change as it happens and ends with the request", .timeLimit(.minutes(1)))
  func watch() async throws {
    try await withOKeydAndSlapd { cli in
      let portal = "portal-cli-key"
      let agent = ["--on-behalf-of", "ens1a"]
      let started =
        try await cli.json(["renewal", "start", "--key-type", "software", "--motif", "expired"] + agent, token: portal)
        as? [String: Any]
      let id = try #require(started?["id"] as? String)
      var environment = ["OKEY_SERVER": cli.server, "XDG_CONFIG_HOME": cli.configHome]
      environment["OKEY_TOKEN"] = portal
      let watcher = try ChildProcess(
        TestPaths.executable("okey"), ["renewal", "watch", id] + agent, environment: environment)
      defer { watcher.send(SIGKILL) }
      // The current state comes first: once it is printed, the watch is live.
      let clock = ContinuousClock()
      let deadline = clock.now + .seconds(20)
      while !watcher.standardOutput.contains("DRAFT"), clock.now < deadline {
        try await Task.sleep(for: .milliseconds(20))
      }
      #expect(watcher.standardOutput.contains("DRAFT  version 1"), "\(watcher.standardError)")
      let cancelled = try await cli.run(["renewal", "cancel", id, "--reason", "found it"] + agent, token: portal)
      #expect(cancelled.status == 0, "\(cancelled.error)")
      #expect(try await watcher.waitForExit(timeout: .seconds(20)) == 0)
      let lines = watcher.standardOutput.split(separator: "\n").map(String.init)
      #expect(lines.count == 2, "\(lines)")
      #expect(lines.last?.contains("CANCELLED  version 2") == true, "\(lines)")
    }
  }

  @Test(
    "every subcommand has a complete --help",
    arguments: [
      ["--help"], ["renewal", "--help"], ["renewal", "start", "--help"], ["renewal", "sign-charter", "--help"],
      ["approvals", "approve", "--help"],
      ["ops", "finalize", "--help"], ["slots", "publish", "--help"], ["charter", "publish", "--help"],
      ["requests", "search", "--help"],
      ["routing", "--help"], ["keys", "--help"], ["audit", "verify", "--help"], ["stats", "--help"],
      ["login", "--help"],
    ])
  func help(arguments: [String]) async throws {
    let result = try await ChildProcess.run(TestPaths.executable("okey"), arguments)
    #expect(result.status == 0)
    #expect(result.output.contains("USAGE:"))
    #expect(result.output.contains("OVERVIEW:"))
  }
}

@Suite("okey CLI: the DSI's and the desk's days", .serialized)
struct DeskDayTests {
  /// The kinds of every notification written for `id`, whatever their delivery state.
  static func notificationKinds(_ cli: OkeyCLI, id: String, token: String) async throws -> [String] {
    var kinds: [String] = []
    for state in ["PENDING", "SENDING", "SENT", "DEAD"] {
      let entries =
        try await cli.json(["outbox", "list", "--state", state, "--limit", "500"], token: token) as? [[String: Any]]
      kinds += (entries ?? []).filter { $0["requestID"] as? String == id }.compactMap { $0["kind"] as? String }
    }
    return kinds
  }

  @Test(
    "okey keys import FILE.csv records keys from before OKEY, reports each refused line and exits 65; run again, every line is UNCHANGED; okey keys UID lists them"
  )
  func importKeys() async throws {
    try await withOKeydAndSlapd { cli in
      let dsi = try await cli.login("dsi-op1")
      let helpdesk = try await cli.login("helpdesk1")
      try await withTemporaryDirectory { folder in
        let good = "HW-OLD,HARDWARE,ens1a,2024-09-01\nSW-OLD,software,ens1a,2025-01-15\n"
        try
          ("serial,type,uid,activated\n" + good + "X-1,HARDWARE,nobody-here,2024-01-01\nY-1,PHONE,ens1a,2024-01-01\n"
          + "Z-1,HARDWARE,ens1a,yesterday\n").write(toFile: folder + "/keys.csv", atomically: true, encoding: .utf8)
        let first = try await cli.run(["keys", "import", folder + "/keys.csv", "--json"], token: dsi)
        #expect(first.status == 65, "\(first.error)")
        let results = try JSONSerialization.jsonObject(with: Data(first.output.utf8)) as? [[String: Any]]
        #expect(
          results?.compactMap { $0["outcome"] as? String } == ["RECORDED", "RECORDED", "REFUSED", "REFUSED", "REFUSED"])
        let table = try await cli.run(["keys", "import", folder + "/keys.csv"], token: dsi)
        #expect(table.output.contains("uid: no single person"), "\(table.output)")
        #expect(table.output.contains("key_type") && table.output.contains("activated_at"), "\(table.output)")
        try good.write(toFile: folder + "/good.csv", atomically: true, encoding: .utf8)
        let again = try await cli.json(["keys", "import", folder + "/good.csv"], token: dsi) as? [[String: Any]]
        #expect(again?.compactMap { $0["outcome"] as? String } == ["UNCHANGED", "UNCHANGED"])
        let refused = try await cli.run(["keys", "import", folder + "/good.csv"], token: helpdesk)
        #expect(refused.status == 77, "support cannot import: \(refused.error)")
        let keys = try await cli.json(["keys", "ens1a"], token: helpdesk) as? [[String: Any]]
        #expect(Set(keys?.compactMap { $0["serial"] as? String } ?? []) == ["HW-OLD", "SW-OLD"])
      }
    }
  }

  @Test(
    "the agent cancels an appointment and the seat is free again; a no-show frees it and the agent is told; a walk-in is handed the key without a booking; the enrolment conversation drives the work list; the DSI cancels a stuck request and the agent may ask again"
  )
  func deskDay() async throws {
    try await withOKeydAndSlapd { cli in
      let dsi = try await cli.login("dsi-op1")
      let ien = try await cli.login("ien1")
      let helpdesk = try await cli.login("helpdesk1")
      let portal = "portal-cli-key"
      let agent = ["--on-behalf-of", "ens1a"]
      func status(_ value: Any?) -> String? { (value as? [String: Any])?["status"] as? String }

      try await withTemporaryDirectory { folder in
        try "Charte.".write(toFile: folder + "/charter.txt", atomically: true, encoding: .utf8)
        try Data("%PDF-1.4\n%%EOF\n".utf8).write(to: URL(fileURLWithPath: folder + "/proof.pdf"))
        _ = try await cli.json(
          ["charter", "publish", "--version", "2026-10", "--code", "1234", folder + "/charter.txt"], token: dsi)
        let start = Date().addingTimeInterval(86_400).formatted(.iso8601)
        let slots =
          try await cli.json(
            ["slots", "publish", "--place", "desk", "--name", "Guichet DSI", "--start", start, "--capacity", "1"],
            token: dsi) as? [[String: Any]]
        let slotID = try #require(slots?.first?["id"] as? String)

        /// Starts, documents, submits and has ien1 approve a request of ens1a.
        func approved(_ keyType: String) async throws -> String {
          let started =
            try await cli.json(
              ["renewal", "start", "--key-type", keyType, "--motif", "expired"] + agent, token: portal)
            as? [String: Any]
          let id = try #require(started?["id"] as? String)
          _ = try await cli.json(
            ["renewal", "add-document", id, "--kind", "supporting-document", folder + "/proof.pdf"] + agent,
            token: portal)
          _ = try await cli.json(["renewal", "submit", id] + agent, token: portal)
          _ = try await cli.json(["approvals", "approve", id], token: ien)
          return id
        }

        // Hardware: ready at the desk.
        let hardware = try await approved("hardware")
        _ = try await cli.json(
          ["renewal", "sign-charter", hardware, "--code", "1234", "--acknowledge"] + agent, token: portal)
        _ = try await cli.json(["ops", "finalize", hardware, "--serial", "HW-DESK-1", "--place", "desk"], token: dsi)
        func freeSlots() async throws -> [String] {
          let free = try await cli.json(["renewal", "slots", hardware] + agent, token: portal) as? [[String: Any]]
          return (free ?? []).compactMap { $0["id"] as? String }
        }
        #expect(try await freeSlots() == [slotID])
        #expect(
          status(try await cli.json(["renewal", "book", hardware, slotID] + agent, token: portal)) == "PICKUP_BOOKED")
        #expect(try await freeSlots().isEmpty, "one seat, taken")
        #expect(
          status(try await cli.json(["renewal", "cancel-pickup", hardware] + agent, token: portal))
            == "READY_FOR_PICKUP")
        #expect(try await freeSlots() == [slotID], "the cancelled seat is free again")
        _ = try await cli.json(["renewal", "book", hardware, slotID] + agent, token: portal)
        #expect(
          status(try await cli.json(["ops", "no-show", hardware, "--comment", "absent"], token: dsi))
            == "READY_FOR_PICKUP")
        #expect(try await freeSlots() == [slotID], "a no-show frees the seat")
        // The walk-in: no booking, the key is handed over.
        let done =
          try await cli.json(["ops", "handover", hardware, "--comment", "walk-in"], token: dsi) as? [String: Any]
        #expect(status(done) == "COMPLETED")
        let keys = try await cli.json(["keys", "ens1a"], token: helpdesk) as? [[String: Any]]
        #expect(keys?.first?["serial"] as? String == "HW-DESK-1")
        let hardwareKinds = try await Self.notificationKinds(cli, id: hardware, token: helpdesk)
        #expect(hardwareKinds.contains("PICKUP_MISSED"), "\(hardwareKinds)")

        // Software: the work list shows it only once the agent says the elements are sent.
        let software = try await approved("software")
        func inWork(_ extra: [String] = []) async throws -> Bool {
          let work = try await cli.json(["ops", "work"] + extra, token: dsi) as? [[String: Any]]
          return work?.contains { $0["id"] as? String == software } == true
        }
        #expect(try await !inWork())
        _ = try await cli.run(["renewal", "platform", software, "ios"] + agent, token: portal)
        #expect(try await !inWork(), "a platform alone is not work for the DSI")
        let explained =
          try await cli.json(["requests", "explain", software], token: helpdesk) as? [String: Any]
        #expect(explained?["waitingFor"] as? String == "AGENT")
        #expect((explained?["step"] as? String)?.contains("enrolment elements") == true, "\(explained ?? [:])")
        #expect(((explained?["people"] as? [[String: Any]])?.first)?["uid"] as? String == "ens1a")
        #expect((explained?["lastEvents"] as? [Any])?.count == 3)
        #expect((explained?["lastMessageToAgent"] as? [String: Any])?["kind"] as? String == "AGENT_APPROVED")
        let sent = try await cli.json(["renewal", "elements-sent", software] + agent, token: portal) as? [String: Any]
        #expect(sent?["elementsSentAt"] != nil)
        #expect(try await inWork())
        let table = try await cli.run(["requests", "explain", software], token: helpdesk)
        #expect(table.output.contains("waits for        DSI"), "\(table.output)")
        let again =
          try await cli.json(
            ["ops", "request-elements", software, "--message", "code illisible"], token: dsi) as? [String: Any]
        #expect(status(again) == "AWAITING_ENROLMENT" && again?["elementsSentAt"] == nil)
        #expect(try await !inWork())
        #expect(try await inWork(["--status", "AWAITING_ENROLMENT"]), "named statuses list everything in them")

        // Stuck: the DSI closes it with a reason; the agent may ask again at once.
        let refused = try await cli.run(["ops", "cancel", software, "--reason", ""], token: dsi)
        #expect(refused.status == 65, "a reason is required: \(refused.error)")
        let closed = try await cli.json(["ops", "cancel", software, "--reason", "demande en double"], token: dsi)
        #expect(status(closed) == "CANCELLED")
        let softwareKinds = try await Self.notificationKinds(cli, id: software, token: helpdesk)
        #expect(
          softwareKinds.contains("ELEMENTS_REQUESTED") && softwareKinds.contains("AGENT_CANCELLED"), "\(softwareKinds)")
        let next =
          try await cli.json(
            ["renewal", "start", "--key-type", "software", "--motif", "expired"] + agent, token: portal)
        #expect(status(next) == "DRAFT")

        // The period's report: the three requests played, and the hand-over step as long as it took.
        let yesterday = Date().addingTimeInterval(-86_400).formatted(.iso8601)
        let tomorrow = Date().addingTimeInterval(86_400).formatted(.iso8601)
        let report =
          try await cli.json(["report", "--from", yesterday, "--to", tomorrow], token: helpdesk) as? [String: Any]
        #expect(report?["requests"] as? Int == 3)
        #expect(report?["byStatus"] as? [String: Int] == ["COMPLETED": 1, "CANCELLED": 1, "DRAFT": 1])
        #expect(report?["byKeyType"] as? [String: Int] == ["HARDWARE": 1, "SOFTWARE": 2])
        let steps = (report?["stepTimes"] as? [[String: Any]]) ?? []
        func stepCount(_ name: String) -> Int? { steps.first { $0["step"] as? String == name }?["count"] as? Int }
        #expect(stepCount("SUBMITTED_TO_DECIDED") == 2)
        #expect(stepCount("READY_TO_HANDED_OVER") == 1)
        let history =
          try await cli.json(["requests", "show", "--history", hardware], token: helpdesk) as? [[String: Any]] ?? []
        func at(_ action: String) -> Date? {
          (history.first { $0["action"] as? String == action }?["at"] as? String).flatMap {
            try? Date($0, strategy: .iso8601)
          }
        }
        if let ready = at("finalize"), let handed = at("record-handover"),
          let median = steps.first(where: { $0["step"] as? String == "READY_TO_HANDED_OVER" })?["medianSeconds"] as? Int
        {
          #expect(
            abs(Double(median) - handed.timeIntervalSince(ready)) <= 1.5,
            "\(median) vs \(handed.timeIntervalSince(ready))")
        } else {
          Issue.record("the hand-over history or its step time is missing: \(history)")
        }
        let csv = try await cli.run(["report", "--from", yesterday, "--to", tomorrow, "--csv"], token: helpdesk)
        #expect(csv.output.hasPrefix("section,key,count,median_seconds,p90_seconds\nrequests,all,3,,"), "\(csv.output)")
      }
    }
  }
}
