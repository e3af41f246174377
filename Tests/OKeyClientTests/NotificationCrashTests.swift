import Foundation
import OKeyClient
import OKeyTestSupport
import Testing

@Suite("notification delivery across a crash", .serialized)
struct NotificationCrashTests {
  @Test(
    "okeyd killed after claiming a message, or after sendmail took it but before it was marked sent, sends it after restart with the same Message-ID, once more at most",
    .timeLimit(.minutes(2)), arguments: ["after claim", "after send"])
  func resendAfterSIGKILL(crashPoint: String) async throws {
    try await withSlapd { slapd in
      try await withTemporaryDirectory { folder in
        try FileManager.default.createDirectory(atPath: folder + "/mail", withIntermediateDirectories: true)
        // A sendmail that never finishes (the crash happens while it runs), and one that keeps messages.
        try "#!/bin/sh\ncat > /dev/null\nexec sleep 120\n".write(
          toFile: folder + "/hang.sh", atomically: true, encoding: .utf8)
        // A sendmail that delivers the message, then never returns: okeyd dies before marking it sent.
        try "#!/bin/sh\ncat > \"$1/.part.$$\" && mv \"$1/.part.$$\" \"$1/$(date +%s%N).eml\"\nexec sleep 120\n".write(
          toFile: folder + "/deliver-hang.sh", atomically: true, encoding: .utf8)
        // The message appears under its .eml name only once complete (written aside, then renamed).
        try "#!/bin/sh\ncat > \"$1/.part.$$\" && mv \"$1/.part.$$\" \"$1/$(date +%s%N).eml\"\n".write(
          toFile: folder + "/capture.sh", atomically: true, encoding: .utf8)
        for script in ["hang.sh", "capture.sh", "deliver-hang.sh"] {
          try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder + "/" + script)
        }
        func config(_ command: String) throws -> String {
          try writeOKeydConfig(
            folder: folder, slapd: slapd, portalKey: "portal-mail-key", mail: "command: \(command)\npollSeconds: 0.05")
        }

        let firstCommand =
          crashPoint == "after claim" ? folder + "/hang.sh" : folder + "/deliver-hang.sh " + folder + "/mail"
        let first = try await OKeydProcess(arguments: ["--config", try config(firstCommand)])
        let portal = try OKeyClientSettings(server: first.address, token: "portal-mail-key", onBehalfOf: "ens1a")
        try await OKeyClient.with(portal) { okey in
          var r = try await okey.startRenewal(keyType: .software, motif: .expired)
          r = try await okey.addDocument(
            requestID: r.id, filename: "a.pdf", kind: "supporting-document", content: Data("%PDF-1.4\n%%EOF\n".utf8),
            expectedVersion: r.version)
          _ = try await okey.submit(requestID: r.id, expectedVersion: r.version)
        }
        let database = folder + "/okey.sqlite"
        var claimed = ""
        let clock = ContinuousClock()
        let deadline = clock.now + .seconds(20)
        while clock.now < deadline {
          let rows = try await ChildProcess.run(
            "/usr/bin/sqlite3", [database, "SELECT message_id FROM outbox WHERE state = 'SENDING'"])
          claimed = rows.output.trimmingCharacters(in: .whitespacesAndNewlines)
          if !claimed.isEmpty { break }
          try await Task.sleep(for: .milliseconds(50))
        }
        #expect(claimed.hasSuffix("@okey>"), "no message was being sent")
        if crashPoint == "after send" {
          // The crash comes once sendmail has delivered the message.
          let delivered = clock.now + .seconds(20)
          while clock.now < delivered,
            ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/mail")) ?? []).filter({
              $0.hasSuffix(".eml")
            }).isEmpty
          {
            try await Task.sleep(for: .milliseconds(20))
          }
        }
        first.child.send(SIGKILL)
        _ = try await first.child.waitForExit(timeout: .seconds(10))
        _ = try? await ChildProcess.run("/usr/bin/pkill", ["-f", folder + "/hang.sh"])
        _ = try? await ChildProcess.run("/usr/bin/pkill", ["-f", folder + "/deliver-hang.sh"])

        let second = try await OKeydProcess(arguments: [
          "--config", try config(folder + "/capture.sh " + folder + "/mail"),
        ])
        defer { second.child.send(SIGKILL) }
        // Wait until the restarted okeyd has marked the message sent, then count every copy.
        let until = clock.now + .seconds(20)
        var state = ""
        while clock.now < until {
          state = try await ChildProcess.run(
            "/usr/bin/sqlite3", [database, "SELECT state FROM outbox WHERE message_id = '\(claimed)'"]
          )
          .output.trimmingCharacters(in: .whitespacesAndNewlines)
          if state == "SENT" { break }
          try await Task.sleep(for: .milliseconds(50))
        }
        #expect(state == "SENT")
        let names = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/mail")) ?? []
        let messages = names.filter { $0.hasSuffix(".eml") }.compactMap {
          try? String(contentsOfFile: folder + "/mail/" + $0, encoding: .utf8)
        }
        var byMessageID: [String: Int] = [:]
        for message in messages {
          let id =
            message.components(separatedBy: "\r\n").first { $0.hasPrefix("Message-ID: ") }.map {
              String($0.dropFirst("Message-ID: ".count))
            } ?? "?"
          byMessageID[id, default: 0] += 1
        }
        // After a claim only, one copy; after sendmail took it, the resend is the one duplicate, with
        // the same Message-ID (the receiving side can drop it).
        #expect(byMessageID == [claimed: crashPoint == "after claim" ? 1 : 2], "\(byMessageID)")
        #expect(messages.allSatisfy { $0.contains("To: ien1@ac-test.fr") })
      }
    }
  }
}
