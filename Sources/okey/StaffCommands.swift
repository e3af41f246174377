import ArgumentParser
import Foundation
import OKeyClient

struct Approvals: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "For validators (N+1, N+2): list, open the supporting documents, approve, reject; for heads of establishment, the keys to hand over.",
    subcommands: [
      List.self, DocumentCommand.self, Approve.self, Reject.self, Handovers.self, HandOver.self,
    ])

  struct Handovers: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Heads of establishment: the hardware keys waiting at your establishments, oldest first.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The token a previous page printed.") var pageToken = ""
    func run() async throws {
      let page = try await withClient(connection) { try await $0.keysToHandOver(pageToken: pageToken) }
      try show(page.renewals, nextPageToken: page.nextPageToken, json: connection.json)
    }
  }

  struct HandOver: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "hand-over",
      abstract: "Heads of establishment: record that the agent collected the key waiting at your establishment.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "A comment for the trail.") var comment = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.handOverKey(requestID: id, comment: comment, expectedVersion: version)
      }
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Requests waiting for your decision, oldest first.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "The token a previous page printed.") var pageToken = ""
    func run() async throws {
      let page = try await withClient(connection) { try await $0.pendingApprovals(pageToken: pageToken) }
      try show(page.renewals, nextPageToken: page.nextPageToken, json: connection.json)
    }
  }

  struct Approve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Approve a request that names you as N+1 or N+2.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "A comment for the agent.") var comment = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.approve(requestID: id, comment: comment, expectedVersion: version)
      }
    }
  }

  struct Reject: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Reject a request, with the reason the agent will read.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "Why (required).") var reason: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.reject(requestID: id, reason: reason, expectedVersion: version)
      }
    }
  }
}

struct Ops: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract:
      "For the DSI: work list, enrolment elements, finalisation, hand-over (walk-ins too), no-shows, cancellation, re-routing.",
    subcommands: [
      Work.self, ConfirmElements.self, RequestElements.self, AttachCode.self, Finalize.self, Handover.self, NoShow.self,
      AllowPhoneChange.self,
      Cancel.self,
      Reroute.self,
    ])

  struct Work: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Requests waiting for the DSI, oldest first.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Statuses to list (repeatable; default AWAITING_ENROLMENT, AWAITING_DSI, PICKUP_BOOKED).") var status:
      [RenewalStatus] = []
    @Option(help: "The token a previous page printed.") var pageToken = ""
    func run() async throws {
      let page = try await withClient(connection) { try await $0.work(statuses: status, pageToken: pageToken) }
      try show(page.renewals, nextPageToken: page.nextPageToken, json: connection.json)
    }
  }

  struct ConfirmElements: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Confirm the enrolment elements of a software key were received.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "A comment.") var comment = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.confirmEnrolmentElements(requestID: id, comment: comment, expectedVersion: version)
      }
    }
  }

  struct AttachCode: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "attach-code",
      abstract:
        "Attach the provisioning payload of a software key's new token (enrolment.mode: qr), read from standard input.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    func run() async throws {
      // From standard input, never the command line (which other users of the machine can read).
      guard let line = readLine(strippingNewline: true), !line.isEmpty else {
        throw ValidationError("give the payload (e.g. the otpauth:// URI) on standard input")
      }
      try await changeRequest(connection, change) { client, id, version in
        try await client.attachEnrolmentCode(requestID: id, payload: line, expectedVersion: version)
      }
    }
  }

  struct Finalize: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Finalise the key: its serial, and for hardware keys the pickup place.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "The new key's serial.") var serial: String
    @Option(help: "Hardware keys: the pickup place id.") var place = ""
    @Option(help: "The serial of the agent's key the new one replaces (default: their active keys of the same type).")
    var replaces = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.finalize(
          requestID: id, serial: serial, pickupPlaceID: place, replacing: replaces, expectedVersion: version)
      }
    }
  }

  struct Handover: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Record that the agent collected the hardware key, booked or walk-in.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "A comment.") var comment = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.recordHandover(requestID: id, comment: comment, expectedVersion: version)
      }
    }
  }

  struct NoShow: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "no-show", abstract: "Record that the agent missed the appointment (the key waits again).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "A comment.") var comment = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.recordNoShow(requestID: id, comment: comment, expectedVersion: version)
      }
    }
  }

  struct AllowPhoneChange: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "allow-phone-change",
      abstract:
        "Let the agent change phone again before phoneChange.minDays (give the request id of their last completed phone change)."
    )
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "Why (required; the agent reads it).") var reason: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.allowPhoneChange(requestID: id, reason: reason, expectedVersion: version)
      }
    }
  }

  struct RequestElements: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "request-elements", abstract: "Ask the agent for the enrolment elements again.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "What is missing or wrong (required; the agent reads it).") var message: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.requestElementsAgain(requestID: id, message: message, expectedVersion: version)
      }
    }
  }

  struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Cancel a request that is not over (stuck, uncollected), with the reason the agent reads.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "Why (required).") var reason: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.cancelAsDSI(requestID: id, reason: reason, expectedVersion: version)
      }
    }
  }

  struct Reroute: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Re-resolve the routing of a pending request from the directory.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.reroute(requestID: id, expectedVersion: version)
      }
    }
  }
}

struct Slots: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "For the DSI: pickup places and slots.", subcommands: [Publish.self, List.self])

  struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Create or update a pickup place and publish slots there.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Place id, e.g. rectorat-dsi.") var place: String
    @Option(help: "Place name.") var name: String
    @Option(help: "Address and directions.") var address = ""
    @Option(help: "Slot start, ISO 8601 (repeatable), e.g. 2026-12-01T09:00:00Z.") var start: [String]
    @Option(help: "Slot length in minutes.") var minutes = 30
    @Option(help: "Agents per slot.") var capacity = 1
    func run() async throws {
      let starts = try start.map { text -> Date in
        guard let date = parseTime(text) else {
          throw ValidationError("--start \(text) is not an ISO 8601 time such as 2026-12-01T09:00:00Z")
        }
        return date
      }
      let slots = try await withClient(connection) {
        try await $0.publishPickupSlots(
          place: PickupPlace(id: place, name: name, address: address),
          slots: starts.map { ($0, $0.addingTimeInterval(Double(minutes) * 60), capacity) })
      }
      if connection.json {
        try printJSON(slots)
        return
      }
      printTable(
        [["SLOT", "STARTS", "ENDS", "CAPACITY"]]
          + slots.map { [$0.id, short($0.startsAt), short($0.endsAt), "\($0.capacity)"] })
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the free slots for a request's pickup place.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    func run() async throws {
      let (_, slots) = try await withClient(connection) { try await $0.pickupSlots(requestID: requestID) }
      if connection.json {
        try printJSON(slots)
        return
      }
      printTable(
        [["SLOT", "STARTS", "ENDS", "BOOKED"]]
          + slots.map { [$0.id, short($0.startsAt), short($0.endsAt), "\($0.booked)/\($0.capacity)"] })
    }
  }
}

struct CharterCommands: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "charter", abstract: "The user charter.", subcommands: [Show.self, Publish.self])

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Print the current charter with the code at its bottom.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let charter = try await withClient(connection) { try await $0.charter() }
      if connection.json {
        try printJSON(charter)
        return
      }
      print(charter.text.trimmingCharacters(in: .newlines))
      print("")
      print(charter.footer)
    }
  }

  struct Publish: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Publish a new charter version (DSI).")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Version label, e.g. 2026-09.") var version: String
    @Option(help: "The code printed at the bottom (4 to 12 letters or digits).") var code: String
    @Argument(help: "A text file with the charter.") var file: String
    func run() async throws {
      guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
        throw ValidationError("cannot read \(file)")
      }
      let charter = try await withClient(connection) {
        try await $0.publishCharter(version: version, text: text, code: code)
      }
      if connection.json { try printJSON(charter) } else { print("published charter \(charter.version)") }
    }
  }
}
