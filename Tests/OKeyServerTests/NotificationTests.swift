import Foundation
import GRPCCore
import OKeyAPI
import OKeyDirectory
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import Testing

@testable import OKeyServer

/// A sendmail stand-in that keeps every message in a folder, and one that always fails.
struct MailCapture {
  let folder: String

  var command: String { folder + "/capture.sh " + folder + "/mail" }
  var failingCommand: String { folder + "/fail.sh" }

  init(folder: String) throws {
    self.folder = folder
    try FileManager.default.createDirectory(atPath: folder + "/mail", withIntermediateDirectories: true)
    try "#!/bin/sh\nn=$(ls \"$1\" | wc -l)\ncat > \"$1/$(printf %04d $n).eml\"\n".write(
      toFile: folder + "/capture.sh", atomically: true, encoding: .utf8)
    try "#!/bin/sh\ncat > /dev/null\necho 'mail system down' >&2\nexit 75\n".write(
      toFile: folder + "/fail.sh", atomically: true, encoding: .utf8)
    for script in ["capture.sh", "fail.sh"] {
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: folder + "/" + script)
    }
  }

  /// The messages captured, in order.
  var messages: [String] {
    let names = ((try? FileManager.default.contentsOfDirectory(atPath: folder + "/mail")) ?? []).sorted()
    return names.compactMap { try? String(contentsOfFile: folder + "/mail/" + $0, encoding: .utf8) }
  }
}

func header(_ name: String, in message: String) -> String? {
  message.components(separatedBy: "\r\n").first { $0.hasPrefix(name + ": ") }.map {
    String($0.dropFirst(name.count + 2))
  }
}

/// The subject, decoded from RFC 2047 encoded words.
func subject(of message: String) -> String {
  let lines = message.components(separatedBy: "\r\n")
  guard let start = lines.firstIndex(where: { $0.hasPrefix("Subject: ") }) else { return "" }
  var raw = String(lines[start].dropFirst(9))
  var index = start + 1
  while index < lines.count, lines[index].hasPrefix(" ") {
    raw += lines[index]
    index += 1
  }
  let words = raw.split(separator: " ").map(String.init)
  return words.map { word -> String in
    guard word.hasPrefix("=?UTF-8?B?"), word.hasSuffix("?="),
      let data = Data(base64Encoded: String(word.dropFirst(10).dropLast(2)))
    else { return word }
    return String(decoding: data, as: UTF8.self)
  }.joined(separator: words.allSatisfy { $0.hasPrefix("=?") } ? "" : " ")
}

@Suite("notifications through the outbox", .serialized)
struct NotificationTests {
  @Test("every notification reaches its recipient as an RFC 5322 message naming the request and the next action")
  func everyNotification() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: { $0.mail.command = capture.command }) { daemon, client in
        let agent = TestCaller.portal(client, for: "ens-clg")
        let principal = try await TestCaller.session(client, "principal1")
        let dsi = try await TestCaller.session(client, "dsi-op1")
        _ = try await dsi.operations.publishCharter(
          .with {
            $0.version = "v1"
            $0.text = "Charte"
            $0.code = "4821"
          }, metadata: dsi.metadata)
        let tomorrow = Date().addingTimeInterval(86_400)
        _ = try await dsi.operations.publishPickupSlots(
          .with {
            $0.place = .with {
              $0.placeID = "rectorat"
              $0.name = "Rectorat, bureau 12"
              $0.address = "1 rue de la Paix"
            }
            $0.slots = [
              .with {
                $0.startsAt = .init(date: tomorrow)
                $0.endsAt = .init(date: tomorrow.addingTimeInterval(900))
                $0.capacity = 1
              }
            ]
          }, metadata: dsi.metadata)
        var r = try await agent.startAndSubmit(.hardware)
        r = try await principal.approvals.approve(
          .with {
            $0.requestID = r.requestID
            $0.expectedVersion = r.version
          }, metadata: principal.metadata
        ).renewal
        r = try await agent.renewals.signCharter(
          .with {
            $0.requestID = r.requestID
            $0.charterCode = "4821"
            $0.acknowledged = true
            $0.expectedVersion = r.version
          }, metadata: agent.metadata
        ).renewal
        r = try await dsi.operations.finalize(
          .with {
            $0.requestID = r.requestID
            $0.newKeySerial = "HW-77"
            $0.pickupPlaceID = "rectorat"
            $0.expectedVersion = r.version
          }, metadata: dsi.metadata
        ).renewal
        let slot = try await agent.renewals.listPickupSlots(
          .with { $0.requestID = r.requestID }, metadata: agent.metadata
        ).slots[0]
        r = try await agent.renewals.bookPickup(
          .with {
            $0.requestID = r.requestID
            $0.slotID = slot.slotID
            $0.expectedVersion = r.version
          }, metadata: agent.metadata
        ).renewal
        r = try await dsi.operations.recordHandover(
          .with {
            $0.requestID = r.requestID
            $0.expectedVersion = r.version
          }, metadata: dsi.metadata
        ).renewal
        let other = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
        let ien = try await TestCaller.session(client, "ien1")
        _ = try await ien.approvals.reject(
          .with {
            $0.requestID = other.requestID
            $0.reason = "pas de téléphone professionnel"
            $0.expectedVersion = other.version
          }, metadata: ien.metadata)

        let sent = try await daemon.notifications.deliverDue(now: daemon.application.clock())
        let messages = capture.messages
        #expect(sent == messages.count)
        let stored = try await daemon.application.store.outboxMessages(state: .sent, limit: 100)
        #expect(stored.count == messages.count)
        #expect(Set(messages.compactMap { header("Message-ID", in: $0) }) == Set(stored.map(\.messageID)))
        for message in messages {
          #expect(header("Auto-Submitted", in: message) == "auto-generated")
          #expect(header("Content-Type", in: message) == "text/plain; charset=UTF-8")
          // Dated in the academy's time zone (Indian/Reunion by default, UTC+4 all year).
          #expect(header("Date", in: message)?.hasSuffix("+0400") == true)
          #expect(header("From", in: message)?.contains("okey-noreply") == true)
          #expect(message.contains(header("X-OKEY-Request", in: message) ?? "?"))
        }
        func find(_ to: String, _ words: String) -> String? {
          messages.first { header("To", in: $0) == to && subject(of: $0).contains(words) }
        }
        #expect(find("principal1@ac-test.fr", "à valider") != nil)
        #expect(find("ens-clg@ac-test.fr", "validée")?.contains("signez la charte") == true)
        #expect(find("ens-clg@ac-test.fr", "Signez la charte") != nil)
        #expect(find("ens-clg@ac-test.fr", "prête")?.contains("Rectorat, bureau 12") == true)
        #expect(find("ens-clg@ac-test.fr", "active")?.contains("PIN reste celui de votre ancienne clé") == true)
        #expect(find("dsi@ac-test.fr", "DSI") != nil)
        #expect(find("ens1a@ac-test.fr", "refusée")?.contains("pas de téléphone professionnel") == true)
        #expect(header("Subject", in: messages[0])?.hasPrefix("=?UTF-8?B?") == true)
      }
    }
  }

  @Test(
    "public holidays are not business days: with the next fortnight all holidays, the N+2 is not told within it, then is"
  )
  func escalationSkipsHolidays() async throws {
    let calendar = AcademyCalendar.fixedOffset(seconds: 4 * 3600)
    let today = calendar.localDay(RenewalApplication.systemClock())
    let fortnight = (0...15).map { day -> String in
      let date = CivilDate(day: today + Int64(day))
      return String(format: "%04d-%02d-%02d", date.year, date.month, date.day)
    }
    try await withAcademy(configure: {
      $0.mail.escalationBusinessDays = 3
      $0.holidays = fortnight
    }) { daemon, client in
      let waiting = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
      #expect(waiting.status == .pendingApproval)
      let now = daemon.application.clock()
      #expect(try await daemon.notifications.escalate(now: now.adding(seconds: 10 * 86_400)) == 0)
      #expect(try await daemon.notifications.escalate(now: now.adding(seconds: 22 * 86_400)) == 1)
    }
  }

  @Test(
    "reminders: the agent whose documents are missing and the N+1 who has not decided hear once per period of business days, never on holidays"
  )
  func reminders() async throws {
    let calendar = AcademyCalendar.fixedOffset(seconds: 4 * 3600)
    let today = calendar.localDay(RenewalApplication.systemClock())
    let week = (0...8).map { day -> String in
      let date = CivilDate(day: today + Int64(day))
      return String(format: "%04d-%02d-%02d", date.year, date.month, date.day)
    }
    try await withAcademy(configure: {
      $0.holidays = week
      $0.reminders.documentsBusinessDays = 3
      $0.reminders.approverBusinessDays = 2
    }) { daemon, client in
      let agent = TestCaller.portal(client, for: "ens1a")
      let missing = try await agent.renewals.startRenewal(
        .with {
          $0.keyType = .software
          $0.motif = .expired
        }, metadata: agent.metadata
      ).renewal
      let kept = try await agent.renewals.submitRenewal(
        .with {
          $0.requestID = missing.requestID
          $0.expectedVersion = missing.version
        }, metadata: agent.metadata
      ).renewal
      #expect(kept.status == .awaitingDocuments)
      let pending = try await TestCaller.portal(client, for: "ens-clg").startAndSubmit(.software)
      let now = daemon.application.clock()
      // Within the holidays: no business day has passed.
      #expect(try await daemon.notifications.remind(now: now.adding(seconds: 8 * 86_400)) == 0)
      // A fortnight on: both reminded, once.
      #expect(try await daemon.notifications.remind(now: now.adding(seconds: 15 * 86_400)) == 2)
      #expect(try await daemon.notifications.remind(now: now.adding(seconds: 15 * 86_400 + 3600)) == 0)
      let reminders = try await daemon.application.store.outboxMessages(state: .pending, limit: 100).filter {
        [.documentsReminder, .approverReminder].contains($0.kind)
      }
      // The principal and the deputy who may decide beside them are both reminded.
      #expect(
        Set(reminders.map { "\($0.kind.rawValue) \($0.recipient?.uid ?? "")" }) == [
          "DOCUMENTS_REMINDER ens1a", "APPROVER_REMINDER principal1", "APPROVER_REMINDER adjoint1",
        ])
      #expect(reminders.contains { $0.renewalID == pending.requestID })
      let history = try await daemon.application.store.history(renewalID: kept.requestID)
      #expect(history.last?.event.action == "remind" && history.last?.event.role == .system)
    }
  }

  @Test("the N+2 hears once after the escalation delay, never for auto-validated or decided requests")
  func escalation() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: {
        $0.mail.command = capture.command
        $0.mail.escalationBusinessDays = 3
      }) { daemon, client in
        let waiting = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
        let auto = try await TestCaller.portal(client, for: "dir1").startAndSubmit(.software)
        let decided = try await TestCaller.portal(client, for: "ens-lyc").startAndSubmit(.software)
        let adjoint = try await TestCaller.session(client, "adjoint2")
        _ = try await adjoint.approvals.approve(
          .with {
            $0.requestID = decided.requestID
            $0.expectedVersion = decided.version
          }, metadata: adjoint.metadata)
        #expect(auto.status == .awaitingEnrolment)
        let now = daemon.application.clock()
        #expect(try await daemon.notifications.escalate(now: now.adding(seconds: 86_400)) == 0)
        #expect(try await daemon.notifications.escalate(now: now.adding(seconds: 10 * 86_400)) == 1)
        #expect(try await daemon.notifications.escalate(now: now.adding(seconds: 20 * 86_400)) == 0)
        let escalations = try await daemon.application.store.outboxMessages(state: .pending, limit: 100).filter {
          $0.kind == .n2Escalation
        }
        #expect(escalations.map(\.renewalID) == [waiting.requestID])
        #expect(escalations.first?.recipient?.uid == "dasen974")
        _ = try await daemon.notifications.deliverDue(now: now.adding(seconds: 10 * 86_400))
        #expect(
          capture.messages.contains {
            header("To", in: $0) == "dasen974@ac-test.fr" && subject(of: $0).contains("jours ouvrés")
          })
      }
    }
  }

  @Test("a message claimed but not sent when okeyd stopped is sent after restart with the same Message-ID")
  func resendAfterCrash() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: { $0.mail.command = capture.command }) { daemon, client in
        _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
        let store = daemon.application.store
        let claimed = try await store.claimDueOutboxMessages(now: daemon.application.clock(), limit: 10)
        #expect(claimed.count == 1)
        // The crash: nothing is sent; a restarted delivery releases the claim and sends it.
        #expect(try await daemon.notifications.deliverDue(now: daemon.application.clock()) == 0)
        #expect(try await store.releaseOutboxClaims() == 1)
        #expect(try await daemon.notifications.deliverDue(now: daemon.application.clock()) == 1)
        #expect(capture.messages.compactMap { header("Message-ID", in: $0) } == claimed.map(\.messageID))
      }
    }
  }

  @Test("a sendmail that always fails ends in dead letter after the configured attempts, with backoff in between")
  func deadLetter() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: {
        $0.mail.command = capture.failingCommand
        $0.mail.maxAttempts = 3
        $0.mail.initialBackoffSeconds = 60
      }) { daemon, client in
        _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
        let start = daemon.application.clock()
        #expect(try await daemon.notifications.deliverDue(now: start) == 0)
        // Not due again before its backoff.
        #expect(
          try await daemon.application.store.claimDueOutboxMessages(now: start.adding(seconds: 30), limit: 10).isEmpty)
        _ = try await daemon.notifications.deliverDue(now: start.adding(seconds: 61))
        _ = try await daemon.notifications.deliverDue(now: start.adding(seconds: 200))
        let dead = try await daemon.application.store.outboxMessages(state: .dead, limit: 10)
        #expect(dead.count == 1)
        #expect(dead.first?.attempts == 3)
        #expect(dead.first?.lastError?.contains("75") == true)
        let support = try await TestCaller.session(client, "helpdesk1")
        let listed = try await support.support.listOutbox(.init(), metadata: support.metadata).messages
        #expect(listed.map(\.state) == ["DEAD"])
        #expect(listed.first?.recipientMail == "ien1@ac-test.fr")
      }
    }
  }

  @Test(
    "a sendmail command that exits without reading the message is a failed attempt, whatever its status, never a crash",
    arguments: ["/bin/true", "/bin/false"])
  func commandThatDoesNotRead(command: String) async throws {
    try await withAcademy(configure: { $0.mail.command = command }) { daemon, client in
      _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
      #expect(try await daemon.notifications.deliverDue(now: daemon.application.clock()) == 0)
      let pending = try await daemon.application.store.outboxMessages(state: .pending, limit: 10)
      #expect(pending.count == 1)
      #expect(pending.first?.attempts == 1)
      #expect(
        pending.first?.lastError?.contains(command == "/bin/true" ? "exited after reading 0" : "exited with status 1")
          == true, "\(pending)")
    }
  }

  @Test(
    "a message claimed whose attempt never recorded its end is tried again after mail.claimTimeoutSeconds, not before")
  func staleClaim() async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: {
        $0.mail.command = capture.command
        $0.mail.claimTimeoutSeconds = 300
      }) { daemon, client in
        _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
        let start = daemon.application.clock()
        let claimed = try await daemon.application.store.claimDueOutboxMessages(now: start, limit: 10)
        #expect(claimed.count == 1)
        #expect(try await daemon.notifications.deliverDue(now: start.adding(seconds: 299)) == 0)
        #expect(try await daemon.notifications.deliverDue(now: start.adding(seconds: 301)) == 1)
        #expect(capture.messages.compactMap { header("Message-ID", in: $0) } == claimed.map(\.messageID))
      }
    }
  }

  @Test(
    "a directory mail value that sendmail -t would expand into several recipients is a dead letter with the reason",
    arguments: [
      "ien1@ac-test.fr, boss@evil.example", "ien1@ac-test.fr;boss@evil.example", "Ines <ien1@ac-test.fr>",
      "ien1@ac-test.fr boss@evil.example",
    ])
  func expandingAddress(mail: String) async throws {
    try await withTemporaryDirectory { folder in
      let capture = try MailCapture(folder: folder)
      try await withAcademy(configure: { $0.mail.command = capture.command }) { daemon, client, slapd in
        try await slapd.modify(
          """
          dn: uid=ien1,ou=people,dc=ac-test,dc=fr
          changetype: modify
          replace: mail
          mail: \(mail)

          """)
        _ = try await TestCaller.portal(client, for: "ens1a").startAndSubmit(.software)
        #expect(try await daemon.notifications.deliverDue(now: daemon.application.clock()) == 0)
        let dead = try await daemon.application.store.outboxMessages(state: .dead, limit: 10)
        #expect(dead.count == 1)
        #expect(dead.first?.lastError?.contains("mail address in the directory") == true)
        #expect(capture.messages.isEmpty)
      }
    }
  }
}
