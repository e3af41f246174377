import Foundation
import Logging
import OKeyDomain
import OKeyStore
import ServiceLifecycle
import Synchronization

/// Sends the outbox through a sendmail-compatible command, with retries and exponential backoff
/// up to a maximum of attempts, then a dead letter; and tells N+2s about requests that waited too
/// long. At least once: a message claimed but not marked sent (a crash) is sent again after a
/// restart, with the same Message-ID. Never blocks or fails an RPC: it runs beside them.
final class NotificationDelivery: Service, Sendable {
  /// The outbox, and the requests it reads.
  let store: any RenewalStore
  /// `enrolment.elementsMailbox` (restart to change).
  let elementsMailbox: String
  let clock: @Sendable () -> Instant
  /// Applies the escalation to a request (the one change this loop makes, through the domain).
  let escalateRequest:
    @Sendable (_ renewal: RenewalRequest, _ now: Instant, _ delayBusinessDays: Int) async throws -> Void
  /// Applies a reminder to a request (through the domain, which checks it is due).
  let remindRequest:
    @Sendable (_ renewal: RenewalRequest, _ now: Instant, _ periods: ReminderPeriods, _ appointment: Instant?)
      async throws -> Void
  /// How long requests wait before their reminders.
  let reminderPeriods: ReminderPeriods
  /// The mail settings and the composer made from them, replaced together on reload (SIGHUP).
  private let current: Mutex<(settings: OKeyConfiguration.Mail, composer: MailComposer)>
  /// Told of every delivery attempt (the metrics).
  let observe: @Sendable (DeliveryAttempt) -> Void
  /// The academy's days: the escalation delay counts business days in it.
  let calendar: AcademyCalendar
  let logger: Logger

  /// The academy's time zone: the Date header of the messages.
  let timeZone: TimeZone

  /// The mail settings in force.
  var settings: OKeyConfiguration.Mail { current.withLock { $0.settings } }
  var composer: MailComposer { current.withLock { $0.composer } }

  /// What one delivery attempt came to, for the metrics.
  struct DeliveryAttempt: Sendable {
    enum Outcome: String, Sendable, CaseIterable {
      case sent
      case retry
      case dead
      case undeliverable
    }
    var outcome: Outcome
    /// How long the mail command ran (nil when it was not run).
    var sending: Duration?
    /// From the outbox row's creation to its sending (sent only).
    var delay: Duration?
  }

  init(
    store: any RenewalStore, clock: @escaping @Sendable () -> Instant, mail: OKeyConfiguration.Mail, dsiMailbox: String,
    elementsMailbox: String = "",
    logger: Logger,
    calendar: AcademyCalendar = .utc,
    timeZone: TimeZone = .gmt,
    reminderPeriods: ReminderPeriods = ReminderPeriods(),
    remindRequest:
      @escaping @Sendable (
        _ renewal: RenewalRequest, _ now: Instant, _ periods: ReminderPeriods, _ appointment: Instant?
      )
      async throws -> Void = { _, _, _, _ in },
    observe: @escaping @Sendable (DeliveryAttempt) -> Void = { _ in },
    escalateRequest:
      @escaping @Sendable (_ renewal: RenewalRequest, _ now: Instant, _ delayBusinessDays: Int) async throws -> Void
  ) {
    self.store = store
    self.clock = clock
    self.elementsMailbox = elementsMailbox
    self.escalateRequest = escalateRequest
    self.calendar = calendar
    self.timeZone = timeZone
    self.reminderPeriods = reminderPeriods
    self.remindRequest = remindRequest
    self.current = Mutex(
      (
        mail,
        MailComposer(
          from: mail.from, language: mail.language, dsiMailbox: dsiMailbox, timeZone: timeZone,
          elementsMailbox: elementsMailbox)
      ))
    self.observe = observe
    self.logger = logger
  }

  /// Takes new mail settings (a reload): the next cycle uses them; a message being sent finishes
  /// with the old ones.
  func update(mail: OKeyConfiguration.Mail, dsiMailbox: String) {
    let composer = MailComposer(
      from: mail.from, language: mail.language, dsiMailbox: dsiMailbox, timeZone: timeZone,
      elementsMailbox: elementsMailbox)
    current.withLock { $0 = (mail, composer) }
  }

  func run() async throws {
    let released = try await store.releaseOutboxClaims()
    if released > 0 {
      logger.notice("outbox: messages claimed before a stop are pending again", metadata: ["count": "\(released)"])
    }
    var lastEscalationScan = ContinuousClock.now - .seconds(86_400)
    while !Task.isCancelledOrShuttingDown {
      do {
        // Off (mail.enabled false) until a reload turns it on.
        guard settings.enabled else {
          try? await Task.sleep(for: .milliseconds(Int64(settings.pollSeconds * 1000)))
          continue
        }
        _ = try await deliverDue(now: clock())
        if ContinuousClock.now - lastEscalationScan >= .milliseconds(Int64(settings.escalationScanSeconds * 1000)) {
          lastEscalationScan = ContinuousClock.now
          // One replica at a time scans (the others skip this pass).
          _ = try await store.exclusively("okey-escalation-and-reminders") { [self] in
            _ = try await escalate(now: clock())
            _ = try await remind(now: clock())
          }
        }
      } catch {
        logger.error("notification delivery failed; retrying", metadata: ["cause": "\(error)"])
      }
      try? await Task.sleep(for: .milliseconds(Int64(settings.pollSeconds * 1000)))
    }
  }

  /// Sends every message due at `now`; returns how many were sent.
  func deliverDue(now: Instant) async throws -> Int {
    var sent = 0
    while true {
      let batch = try await store.claimDueOutboxMessages(
        now: now, limit: 50, reclaimingBefore: now.adding(seconds: -Int64(settings.claimTimeoutSeconds)))
      if batch.isEmpty { return sent }
      for message in batch {
        if try await deliver(message, now: now) { sent += 1 }
      }
    }
  }

  func deliver(_ message: OutboxMessage, now: Instant) async throws -> Bool {
    let renewal = try await store.renewal(id: message.renewalID)
    let date = Date(timeIntervalSince1970: Double(now.millisecondsSinceEpoch) / 1000)
    if let address = message.recipient?.mail, !address.isEmpty, let problem = MailAddress.problem(address) {
      // sendmail -t reads the To: header: a value with separators would reach other recipients.
      try await store.markOutboxMessageFailed(
        id: message.id, error: "the recipient's mail address in the directory \(problem)", retryAt: nil)
      observe(DeliveryAttempt(outcome: .undeliverable))
      logger.error(
        "notification not sent: bad address in the directory",
        metadata: ["request": "\(message.renewalID)", "why": "\(problem)"])
      return false
    }
    guard let mail = composer.compose(message, renewal: renewal, date: date) else {
      try await store.markOutboxMessageFailed(
        id: message.id, error: "the recipient has no mail address in the directory", retryAt: nil)
      observe(DeliveryAttempt(outcome: .undeliverable))
      return false
    }
    let settings = self.settings
    let started = ContinuousClock.now
    do {
      try await Sendmail.send(mail.text, command: settings.command)
      let sending = ContinuousClock.now - started
      try await store.markOutboxMessageSent(id: message.id, at: now)
      let waited = now.millisecondsSinceEpoch.subtractingReportingOverflow(message.createdAt.millisecondsSinceEpoch)
      observe(
        DeliveryAttempt(
          outcome: .sent, sending: sending, delay: waited.overflow ? nil : .milliseconds(max(0, waited.partialValue))))
      logger.info(
        "notification sent",
        metadata: [
          "kind": "\(message.kind.rawValue)", "request": "\(message.renewalID)", "message-id": "\(message.messageID)",
        ])
      return true
    } catch {
      let attempts = message.attempts + 1
      let retryAt: Instant? =
        attempts >= settings.maxAttempts
        ? nil
        : now.adding(
          seconds: Int64(min(settings.maxBackoffSeconds, settings.initialBackoffSeconds << min(attempts - 1, 20))))
      try await store.markOutboxMessageFailed(id: message.id, error: "\(error)", retryAt: retryAt)
      observe(DeliveryAttempt(outcome: retryAt == nil ? .dead : .retry, sending: ContinuousClock.now - started))
      if retryAt == nil {
        logger.error(
          "notification given up (dead letter)",
          metadata: ["request": "\(message.renewalID)", "attempts": "\(attempts)", "cause": "\(error)"])
      } else {
        logger.warning(
          "notification not sent; will retry",
          metadata: ["request": "\(message.renewalID)", "attempts": "\(attempts)", "cause": "\(error)"])
      }
      return false
    }
  }

  /// Tells the N+2 of each routed request that has waited longer than the delay, once; returns
  /// how many were escalated.
  func escalate(now: Instant) async throws -> Int {
    var query = RenewalQuery()
    query.statuses = [.pendingApproval]
    query.routedOnly = true
    query.order = .oldestFirst
    query.limit = 200
    var escalated = 0
    while true {
      let page = try await store.search(query)
      for renewal in page.renewals where renewal.escalatedAt == nil && !renewal.routing.autoValidation.isAutomatic {
        guard let routedAt = renewal.routedAt,
          calendar.businessDays(from: routedAt, to: now) >= settings.escalationBusinessDays,
          renewal.routing.n2?.person.active == true
        else { continue }
        do {
          try await escalateRequest(renewal, now, settings.escalationBusinessDays)
          escalated += 1
        } catch let refusal as RenewalRefusal {
          logger.debug("escalation skipped", metadata: ["request": "\(renewal.id)", "why": "\(refusal)"])
        }
      }
      guard let next = page.next else { return escalated }
      query.after = next
    }
  }

  /// Sends the reminders waiting requests are due (``Reminder``), each through the domain; returns
  /// how many were sent.
  func remind(now: Instant) async throws -> Int {
    var query = RenewalQuery()
    query.statuses = [.awaitingDocuments, .awaitingEnrolment, .readyForPickup, .pendingApproval, .pickupBooked]
    query.order = .oldestFirst
    query.limit = 200
    var reminded = 0
    while true {
      let page = try await store.search(query)
      for renewal in page.renewals {
        let startsAt = try await renewal.appointmentSlotID.asyncFlatMap { try await store.pickupSlot(id: $0)?.startsAt }
        guard
          Reminder.due(
            for: renewal, at: now, calendar: calendar, periods: reminderPeriods, appointmentStartsAt: startsAt) != nil
        else { continue }
        do {
          try await remindRequest(renewal, now, reminderPeriods, startsAt)
          reminded += 1
        } catch let refusal as RenewalRefusal {
          logger.debug("reminder skipped", metadata: ["request": "\(renewal.id)", "why": "\(refusal)"])
        }
      }
      guard let next = page.next else { return reminded }
      query.after = next
    }
  }
}

extension Optional {
  /// `transform` of the wrapped value, or nil.
  func asyncFlatMap<T>(_ transform: (Wrapped) async throws -> T?) async rethrows -> T? {
    guard let value = self else { return nil }
    return try await transform(value)
  }
}

extension Task where Success == Never, Failure == Never {
  static var isCancelledOrShuttingDown: Bool { Task.isCancelled || Task.isShuttingDownGracefully }
}

/// Runs the sendmail-compatible command with the message on its standard input.
enum Sendmail {
  struct Failure: Error, CustomStringConvertible {
    var description: String
  }

  /// Runs `command` with `message` on its standard input. The input is a private file (unlinked at
  /// once) rather than a pipe: no SIGPIPE when the command does not read, and its read offset
  /// (shared with the child) tells whether the command read the whole message: a command that
  /// exits early, even with status 0, is a failed attempt.
  static func send(_ message: String, command: String, timeout: Duration = .seconds(30)) async throws {
    let parts = command.split(separator: " ").map(String.init)
    guard let executable = parts.first else { throw Failure(description: "no mail command configured") }
    let bytes = Array(message.utf8)
    var template = Array((NSTemporaryDirectory() + "/okey-mail-XXXXXX").utf8CString)
    let fd = template.withUnsafeMutableBufferPointer { buffer -> Int32 in
      guard let base = buffer.baseAddress else { return -1 }
      return mkstemp(base)
    }
    guard fd >= 0 else { throw Failure(description: "cannot create the message file: errno \(errno)") }
    template.withUnsafeBufferPointer { buffer in
      if let base = buffer.baseAddress { _ = unlink(base) }
    }
    let input = FileHandle(fileDescriptor: fd, closeOnDealloc: true)
    do {
      try input.write(contentsOf: bytes)
      try input.seek(toOffset: 0)
    } catch {
      throw Failure(description: "cannot write the message file: \(error)")
    }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = Array(parts.dropFirst())
    let errors = Pipe()
    process.standardInput = input
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    do {
      try process.run()
    } catch {
      throw Failure(description: "cannot run \(executable): \(error.localizedDescription)")
    }
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while process.isRunning {
      if clock.now >= deadline {
        process.terminate()
        throw Failure(description: "\(executable) did not finish within \(timeout)")
      }
      try await Task.sleep(for: .milliseconds(5))
    }
    guard process.terminationStatus == 0 else {
      let detail = String(decoding: errors.fileHandleForReading.availableData.prefix(300), as: UTF8.self)
      throw Failure(description: "\(executable) exited with status \(process.terminationStatus) \(detail)")
    }
    let read = lseek(fd, 0, SEEK_CUR)
    guard read >= bytes.count else {
      throw Failure(
        description:
          "\(executable) exited after reading \(max(0, read)) of the message's \(bytes.count) bytes: not sent")
    }
  }
}

/// A mail address from the directory, as sendmail -t would read it in a To: header.
enum MailAddress {
  /// Why `address` is not one plain address (nil when it is): separators or spaces would make
  /// sendmail expand it into several recipients.
  static func problem(_ address: String) -> String? {
    if let bad = address.unicodeScalars.first(where: {
      ",;<> \t\"()[]\\:".unicodeScalars.contains($0) || $0.properties.generalCategory == .control
    }) {
      return "contains '\(bad.escaped(asASCII: true))', which is not allowed in one address"
    }
    let parts = address.split(separator: "@", omittingEmptySubsequences: false)
    guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty, address.utf8.count <= 254 else {
      return "is not of the form local@domain"
    }
    return nil
  }
}
