import ArgumentParser
import Foundation
import OKeyClient

/// Options of commands that change a request.
struct ChangeOptions: ParsableArguments {
  @Argument(help: "The request id.") var requestID: String
  @Option(name: .long, help: "The version you saw (default: the request's current version).") var expectedVersion:
    Int64?
}

struct RenewalCommands: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "renewal",
    abstract: "The agent's procedure (your session, or a service account with --on-behalf-of).",
    subcommands: [
      Start.self, Motifs.self, AddDocument.self, RemoveDocument.self, SetValidator.self, Submit.self, Cancel.self,
      Show.self,
      List.self,
      Platform.self, ElementsSent.self, Code.self, Scanned.self, SignCharter.self, PickupSlots.self, Book.self,
      CancelPickup.self, Watch.self,
      DocumentCommand.self,
    ])

  struct Start: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Start a renewal request (DRAFT), with the validator the directory proposes.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "software or hardware.") var keyType: KeyType
    @Option(help: "expired, lost, stolen, broken, phone-changed, type-change, other or first-key.") var motif: Motif
    @Option(help: "Explanation (required for other).") var details = ""
    @Option(help: "A key that makes a retried start return the first result.") var idempotencyKey = ""
    func run() async throws {
      let renewal = try await withClient(connection) {
        try await $0.startRenewal(keyType: keyType, motif: motif, details: details, idempotencyKey: idempotencyKey)
      }
      try show(renewal, json: connection.json)
    }
  }

  struct AddDocument: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Attach a supporting document (PDF, PNG or JPEG; the content decides).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "Document kind from the reasons catalogue, e.g. theft-report, loss-declaration, supporting-document.")
    var kind: String
    @Argument(help: "The file to attach.") var file: String
    func run() async throws {
      guard let content = FileManager.default.contents(atPath: file) else {
        throw ValidationError("cannot read \(file)")
      }
      try await changeRequest(connection, change) { client, id, version in
        try await client.addDocument(
          requestID: id, filename: (file as NSString).lastPathComponent, kind: kind, content: content,
          expectedVersion: version)
      }
    }
  }

  struct RemoveDocument: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Remove a document from a request not yet routed.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Argument(help: "The document id.") var documentID: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.removeDocument(
          requestID: id, documentID: documentID,
          expectedVersion: version)
      }
    }
  }

  struct SetValidator: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Name another validator than the one the directory proposes.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Argument(help: "The validator's uid.") var validator: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.setValidator(
          requestID: id, validatorUID: validator,
          expectedVersion: version)
      }
    }
  }

  struct Submit: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Submit: routed to the validator, or kept in AWAITING_DOCUMENTS when documents are missing.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "A key that makes a retried submit return the first result.") var idempotencyKey = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.submit(
          requestID: id, expectedVersion: version,
          idempotencyKey: idempotencyKey)
      }
    }
  }

  struct Cancel: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a request (before AWAITING_DSI).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "Why.") var reason = ""
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.cancel(
          requestID: id, expectedVersion: version,
          reason: reason)
      }
    }
  }

  struct Show: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Show one of your requests (or one you approve) with its history.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    func run() async throws {
      let renewal = try await withClient(connection) { try await $0.renewal(requestID) }
      try show(renewal, json: connection.json, history: true)
    }
  }

  struct List: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List your requests, newest first.")
    @OptionGroup var connection: ConnectionOptions
    @Option(help: "Requests per page (at most 100).") var pageSize = 20
    @Option(help: "The token a previous page printed.") var pageToken = ""
    func run() async throws {
      let page = try await withClient(connection) { try await $0.myRenewals(pageSize: pageSize, pageToken: pageToken) }
      try show(page.renewals, nextPageToken: page.nextPageToken, json: connection.json)
    }
  }

  struct Platform: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Choose the phone platform of a software key and print the enrolment steps.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Argument(help: "android or ios.") var platform: MobilePlatform
    @Option(help: "Language of the steps: fr or en (default: the academy's).") var language = ""
    func run() async throws {
      let (renewal, instructions) = try await withClient(connection) { client in
        try await client.choosePlatform(
          requestID: change.requestID, platform: platform,
          expectedVersion: try await version(of: change.requestID, given: change.expectedVersion, client: client),
          language: language)
      }
      if connection.json {
        try printJSON(["renewal": AnyEncodable(renewal), "instructions": AnyEncodable(instructions)])
        return
      }
      try show(renewal, json: false)
      print("")
      for (index, step) in instructions.steps.enumerated() { print("\(index + 1). \(step)") }
      if !instructions.documentationURL.isEmpty { print("\n\(instructions.documentationURL)") }
    }
  }

  struct Motifs: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print the reasons catalogue: the documents each motif needs before the request is routed.")
    @OptionGroup var connection: ConnectionOptions
    func run() async throws {
      let catalogue = try await withClient(connection) { try await $0.reasonsCatalogue() }
      if connection.json {
        try printJSON(catalogue)
        return
      }
      for entry in catalogue.motifs {
        let details = entry.detailsRequired ? "  (--details required)" : ""
        let name = entry.motif.rawValue.lowercased().replacingOccurrences(of: "_", with: "-")
        print(
          name.padding(toLength: 15, withPad: " ", startingAt: 0) + entry.requiredDocumentKinds.joined(separator: ", ")
            + details)
      }
      print("\ndocument kinds: \(catalogue.documentKinds.joined(separator: ", "))")
    }
  }

  struct SignCharter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Sign the charter with the code printed at its bottom (see `okey charter show`).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "The code printed at the bottom of the charter.") var code: String
    @Flag(help: "I have read the charter.") var acknowledge = false
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.signCharter(
          requestID: id, code: code, acknowledged: acknowledge,
          expectedVersion: version)
      }
    }
  }

  struct PickupSlots: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "slots", abstract: "List the free slots where your hardware key waits.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    func run() async throws {
      let (place, slots) = try await withClient(connection) { try await $0.pickupSlots(requestID: requestID) }
      if connection.json {
        try printJSON(slots)
        return
      }
      if let place { print("\(place.name) — \(place.address)") }
      printTable(
        [["SLOT", "STARTS", "ENDS", "BOOKED"]]
          + slots.map { [$0.id, short($0.startsAt), short($0.endsAt), "\($0.booked)/\($0.capacity)"] })
    }
  }

  struct Book: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Book (or move) the appointment to collect a hardware key.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Argument(help: "The slot id (from `okey renewal slots`).") var slotID: String
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.bookPickup(
          requestID: id, slotID: slotID,
          expectedVersion: version)
      }
    }
  }

  struct ElementsSent: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "elements-sent",
      abstract: "Say the enrolment elements of a software key were sent to the DSI mailbox.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.markElementsSent(requestID: id, expectedVersion: version)
      }
    }
  }

  struct Code: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract:
        "Read the QR code of your new token, once (enrolment.mode: qr): it is written as a PNG, then wiped from OKEY.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    @Option(help: "Where to write the QR code's PNG (created with mode 0600; never overwritten).") var png: String
    func run() async throws {
      guard !FileManager.default.fileExists(atPath: png) else {
        throw ValidationError("\(png) exists: give a new file name (the code can be read only once)")
      }
      let code = try await withClient(connection) { client in
        try await client.enrolmentCode(
          requestID: change.requestID,
          expectedVersion: try await version(of: change.requestID, given: change.expectedVersion, client: client))
      }
      guard
        FileManager.default.createFile(
          atPath: png, contents: Data(code.qrCodePNG), attributes: [.posixPermissions: 0o600])
      else { throw ValidationError("cannot write \(png); the code was read: ask the DSI for a new one") }
      print(
        "QR code written to \(png): scan it with the authenticator, delete the file, then run okey renewal scanned.")
    }
  }

  struct Scanned: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Say you scanned the QR code of your new token (enrolment.mode: qr); then sign the charter.")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.confirmEnrolmentScanned(requestID: id, expectedVersion: version)
      }
    }
  }

  struct CancelPickup: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      commandName: "cancel-pickup", abstract: "Cancel the pickup appointment (the key waits for another booking).")
    @OptionGroup var connection: ConnectionOptions
    @OptionGroup var change: ChangeOptions
    func run() async throws {
      try await changeRequest(connection, change) { client, id, version in
        try await client.cancelPickup(requestID: id, expectedVersion: version)
      }
    }
  }

  struct Watch: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
      abstract: "Print each status change of a request until it is completed, rejected or cancelled.")
    @OptionGroup var connection: ConnectionOptions
    @Argument(help: "The request id.") var requestID: String
    func run() async throws {
      let json = connection.json
      try await withClient(connection) { client in
        try await client.watch(requestID: requestID) { renewal in
          let line =
            json
            ? String(decoding: try JSONEncoder().encode(renewal), as: UTF8.self)
            : "\(short(renewal.updatedAt))  \(renewal.status.rawValue)  version \(renewal.version)"
          // Unbuffered: each change reaches a pipe (`| tee`, a script) when it happens, not at exit.
          FileHandle.standardOutput.write(Data((line + "\n").utf8))
        }
      }
    }
  }
}

/// Type-erased Encodable for small JSON objects.
struct AnyEncodable: Encodable {
  let encodeValue: (any Encoder) throws -> Void
  init<T: Encodable>(_ value: T) { encodeValue = value.encode }
  func encode(to encoder: any Encoder) throws { try encodeValue(encoder) }
}

/// `okey renewal document` and `okey approvals document`: one command under both.
struct DocumentCommand: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "document",
    abstract: "Save a supporting document of a request (yours, or one you validate); the read is audited.")
  @OptionGroup var connection: ConnectionOptions
  @Argument(help: "The request id.") var requestID: String
  @Argument(help: "The document id (okey renewal show lists them).") var documentID: String
  @Option(name: .shortAndLong, help: "Where to write the content (a new file).") var output: String
  func run() async throws {
    try await saveDocument(connection, requestID: requestID, documentID: documentID, to: output)
  }
}

/// Fetches a document and writes its content to a new file (never over an existing one), or prints
/// its metadata when only that is given (support staff).
func saveDocument(_ connection: ConnectionOptions, requestID: String, documentID: String, to output: String)
  async throws
{
  guard !FileManager.default.fileExists(atPath: output) else {
    throw ValidationError("\(output) already exists: choose a new file")
  }
  let fetched = try await withClient(connection) { try await $0.document(requestID: requestID, documentID: documentID) }
  let d = fetched.document
  if connection.json { try printJSON(d) }
  guard fetched.contentIncluded else {
    if !connection.json {
      print("\(d.filename)  \(d.mediaType)  \(d.sizeBytes) bytes  sha256 \(d.sha256)  (metadata only)")
    }
    return
  }
  guard FileManager.default.createFile(atPath: output, contents: nil, attributes: [.posixPermissions: 0o600]),
    let handle = FileHandle(forWritingAtPath: output)
  else {
    throw ValidationError("cannot create \(output)")
  }
  try handle.write(contentsOf: fetched.content)
  try handle.close()
  if !connection.json {
    print("wrote \(output): \(d.filename), \(d.mediaType), \(d.sizeBytes) bytes, sha256 \(d.sha256)")
  }
}
