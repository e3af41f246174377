import Foundation
import GRPCCore
import GRPCProtobuf
import OKeyAPI
import OKeyDomain
import OKeyStore
import OKeyTestSupport
import SwiftProtobuf
import Testing

@testable import OKeyServer

@Suite("the okey.v1 contract")
struct ContractTests {
  @Test(
    "every reason the domain refuses with is a value of the contract's ErrorReason (the server's own reasons are typed as it)"
  )
  func refusalReasons() {
    let missing = RenewalRefusal.Code.allCases.filter { Okey_V1_ErrorReason(wireName: $0.rawValue) == nil }
    #expect(missing.isEmpty, "add to Protos/okey/v1/errors.proto: \(missing.map(\.rawValue))")
    for code in RenewalRefusal.Code.allCases {
      #expect(ErrorMapping.reason(for: code).wireName == code.rawValue)
    }
  }

  @Test("the README's section on errors lists every reason of the contract")
  func readmeListsReasons() throws {
    let readme = try String(contentsOfFile: TestPaths.packageRoot + "/README.md", encoding: .utf8)
    let missing = Okey_V1_ErrorReason.allCases.filter { $0 != .unspecified && !readme.contains("`\($0.wireName)`") }
    #expect(missing.isEmpty, "README.md does not list \(missing.map(\.wireName))")
  }

  @Test(
    "INVALID_ARGUMENT carries ErrorInfo (domain okey.v1, reason INVALID_FIELD, metadata field) and a BadRequest naming the field"
  )
  func badRequest() async throws {
    try await withAcademy { _, client in
      let dsi = try await TestCaller.session(client, "dsi-op1")
      do {
        _ = try await dsi.operations.publishPickupSlots(
          .with {
            $0.place = .with {
              $0.placeID = "p"
              $0.name = "P"
            }
            $0.slots = [
              .with {
                $0.startsAt = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(86_400))
                $0.endsAt = Google_Protobuf_Timestamp(date: Date().addingTimeInterval(90_000))
                $0.capacity = 0
              }
            ]
          }, metadata: dsi.metadata)
        Issue.record("a slot of capacity 0 was accepted")
      } catch let error as RPCError {
        #expect(error.code == .invalidArgument)
        let details = try #require(try error.unpackGoogleRPCStatus()).details
        let info = try #require(details.compactMap(\.errorInfo).first)
        #expect(info.domain == "okey.v1")
        #expect(info.reason == "INVALID_FIELD")
        #expect(info.metadata["field"] == "slots[0].capacity")
        let violations = details.compactMap(\.badRequest).flatMap(\.violations)
        #expect(violations.map(\.field) == ["slots[0].capacity"])
        #expect(violations.first?.description.isEmpty == false)
      }
    }
  }
}

/// The okey.v1 files of the descriptor set okeyd serves (with their comments), walked by the
/// contract check: a new RPC, message or field is checked without editing the test.
struct ContractWalk {
  let files: [Google_Protobuf_FileDescriptorProto]

  init() throws {
    let data = try #require(Data(base64Encoded: OKeyDescriptorSet.base64, options: .ignoreUnknownCharacters))
    files = try Google_Protobuf_FileDescriptorSet(serializedBytes: [UInt8](data)).file.filter {
      $0.package == "okey.v1"
    }
  }

  /// The RPCs that change nothing on a retry and so need no idempotency key, with why.
  static let exemptFromIdempotencyKey: [String: String] = [
    "okey.v1.AuthService.Login":
      "a retry opens another session and the lost one expires unused; replaying a login would mean keeping its token",
    "okey.v1.RenewalService.GetEnrolmentCode":
      "the code is read once and wiped; replaying the reading would mean keeping the code (a lost reply: the DSI attaches a new one)",
  ]

  /// The leading comment of the element at `path` in `file`.
  static func comment(_ file: Google_Protobuf_FileDescriptorProto, _ path: [Int32]) -> String {
    file.sourceCodeInfo.location.first { $0.path == path }?.leadingComments.trimmingCharacters(
      in: .whitespacesAndNewlines) ?? ""
  }

  /// Every message with its full name, its path in the file, and its file.
  var messages:
    [(name: String, path: [Int32], message: Google_Protobuf_DescriptorProto, file: Google_Protobuf_FileDescriptorProto)]
  {
    var all: [(String, [Int32], Google_Protobuf_DescriptorProto, Google_Protobuf_FileDescriptorProto)] = []
    func visit(
      _ message: Google_Protobuf_DescriptorProto, _ prefix: String, _ path: [Int32],
      _ file: Google_Protobuf_FileDescriptorProto
    ) {
      let name = prefix + "." + message.name
      all.append((name, path, message, file))
      for (index, nested) in message.nestedType.enumerated() where !nested.options.mapEntry {
        visit(nested, name, path + [3, Int32(index)], file)
      }
    }
    for file in files {
      for (index, message) in file.messageType.enumerated() { visit(message, "okey.v1", [4, Int32(index)], file) }
    }
    return all
  }

  /// Every enum with its full name, its path and its file.
  var enums:
    [(
      name: String, path: [Int32], enumeration: Google_Protobuf_EnumDescriptorProto,
      file: Google_Protobuf_FileDescriptorProto
    )]
  {
    var all: [(String, [Int32], Google_Protobuf_EnumDescriptorProto, Google_Protobuf_FileDescriptorProto)] = []
    for file in files {
      for (index, enumeration) in file.enumType.enumerated() {
        all.append(("okey.v1." + enumeration.name, [5, Int32(index)], enumeration, file))
      }
    }
    for (name, path, message, file) in messages {
      for (index, enumeration) in message.enumType.enumerated() {
        all.append((name + "." + enumeration.name, path + [4, Int32(index)], enumeration, file))
      }
    }
    return all
  }

  /// Every RPC with its full name, its path and its file.
  var methods:
    [(
      name: String, path: [Int32], method: Google_Protobuf_MethodDescriptorProto,
      file: Google_Protobuf_FileDescriptorProto
    )]
  {
    var all: [(String, [Int32], Google_Protobuf_MethodDescriptorProto, Google_Protobuf_FileDescriptorProto)] = []
    for file in files {
      for (s, service) in file.service.enumerated() {
        for (m, method) in service.method.enumerated() {
          all.append(("okey.v1.\(service.name).\(method.name)", [6, Int32(s), 2, Int32(m)], method, file))
        }
      }
    }
    return all
  }
}

extension ContractTests {
  @Test("contract check: every service, RPC, message, field, enum and value has a comment")
  func everyElementCommented() throws {
    let walk = try ContractWalk()
    var missing: [String] = []
    for file in walk.files {
      for (s, service) in file.service.enumerated() where ContractWalk.comment(file, [6, Int32(s)]).isEmpty {
        missing.append("okey.v1.\(service.name)")
      }
    }
    for (name, path, _, file) in walk.methods where ContractWalk.comment(file, path).isEmpty { missing.append(name) }
    for (name, path, message, file) in walk.messages {
      if ContractWalk.comment(file, path).isEmpty { missing.append(name) }
      for (index, field) in message.field.enumerated()
      where ContractWalk.comment(file, path + [2, Int32(index)]).isEmpty {
        missing.append(name + "." + field.name)
      }
    }
    for (name, path, enumeration, file) in walk.enums {
      if ContractWalk.comment(file, path).isEmpty { missing.append(name) }
      for (index, value) in enumeration.value.enumerated()
      where ContractWalk.comment(file, path + [2, Int32(index)]).isEmpty {
        missing.append(name + "." + value.name)
      }
    }
    #expect(missing.isEmpty, "no comment: \(missing)")
  }

  @Test("contract check: each RPC has its own request and response messages")
  func uniqueRequestResponse() throws {
    let walk = try ContractWalk()
    var users: [String: [String]] = [:]
    for (name, _, method, _) in walk.methods {
      users[method.inputType, default: []].append(name)
      users[method.outputType, default: []].append(name)
    }
    let shared = users.filter { $0.value.count > 1 }
    #expect(shared.isEmpty, "shared by several RPCs: \(shared)")
  }

  @Test("contract check: every enum's zero value is its _UNSPECIFIED, values prefixed by the enum's name")
  func enumsUnspecified() throws {
    let walk = try ContractWalk()
    var wrong: [String] = []
    for (name, _, enumeration, _) in walk.enums {
      let prefix =
        enumeration.name.reduce(into: "") { $0 += ($1.isUppercase && !$0.isEmpty ? "_" : "") + $1.uppercased() } + "_"
      if enumeration.value.first(where: { $0.number == 0 })?.name != prefix + "UNSPECIFIED" {
        wrong.append("\(name): no \(prefix)UNSPECIFIED = 0")
      }
      for value in enumeration.value where !value.name.hasPrefix(prefix) {
        wrong.append("\(name).\(value.name): not prefixed \(prefix)")
      }
    }
    #expect(wrong.isEmpty, "\(wrong)")
  }

  @Test(
    "contract check: every RPC that changes something takes an idempotency_key (read-only ones say NO_SIDE_EFFECTS)")
  func mutatingRPCsTakeAKey() throws {
    let walk = try ContractWalk()
    let messages = Dictionary(
      walk.messages.map { ("." + $0.name, $0.message) }, uniquingKeysWith: { first, _ in first })
    var missing: [String] = []
    for (name, _, method, _) in walk.methods {
      let level = method.options.idempotencyLevel
      guard level != .noSideEffects, level != .idempotent, ContractWalk.exemptFromIdempotencyKey[name] == nil else {
        continue
      }
      let request = try #require(messages[method.inputType], "\(method.inputType)")
      if !request.field.contains(where: { $0.name == "idempotency_key" && $0.type == .string }) { missing.append(name) }
    }
    #expect(missing.isEmpty, "no idempotency_key: \(missing)")
  }

  @Test("contract check: every field says its behaviour first (Required., Optional. or Output only.)")
  func fieldBehaviour() throws {
    let walk = try ContractWalk()
    var missing: [String] = []
    for (name, path, message, file) in walk.messages {
      for (index, field) in message.field.enumerated() {
        let comment = ContractWalk.comment(file, path + [2, Int32(index)])
        if !["Required.", "Optional.", "Output only."].contains(where: { comment.hasPrefix($0) }) {
          missing.append(name + "." + field.name)
        }
      }
    }
    #expect(missing.isEmpty, "\(missing.count) fields without behaviour: \(missing)")
  }

  @Test("contract check: every file names its Java package (multiple files) and Go package")
  func languageOptions() throws {
    let walk = try ContractWalk()
    for file in walk.files {
      #expect(file.options.javaPackage == "fr.academie.okey.v1", "\(file.name)")
      #expect(file.options.javaMultipleFiles, "\(file.name)")
      #expect(file.options.goPackage.hasSuffix("okey/v1;okeyv1"), "\(file.name)")
    }
  }
}

extension ContractTests {
  @Test(
    "the closed sets the server fills as text all have their enum value: audit problems, outbox states, routing problems (read from the resolver's code)"
  )
  func closedSets() throws {
    #expect(AuditProblem.Kind.allCases.filter { Okey_V1_AuditProblemKind(wireName: $0.rawValue) == nil }.isEmpty)
    #expect(OutboxMessage.State.allCases.filter { Okey_V1_OutboxState(wireName: $0.rawValue) == nil }.isEmpty)
    let resolver = try String(
      contentsOfFile: TestPaths.packageRoot + "/Sources/OKeyDirectory/RoutingResolver.swift", encoding: .utf8)
    let codes = Set(resolver.matches(of: /code: "([A-Z_0-9]+)"/).map { String($0.output.1) })
    #expect(codes.count >= 10, "the walk finds the resolver's codes: \(codes)")
    #expect(codes.filter { Okey_V1_RoutingProblemKind(wireName: $0) == nil }.isEmpty, "\(codes)")
  }

  @Test("ListOutbox and ListKeys hand out every item once, a page at a time", .timeLimit(.minutes(1)))
  func pagination() async throws {
    try await withAcademy { _, client in
      let support = try await TestCaller.session(client, "helpdesk1")
      let stager = try await Stager(client)
      // Two completed requests: two keys for ens1a, and notifications in the outbox (mail is off).
      _ = try await stager.prepare(.pickupBooked)
      _ = try await stager.prepare(.awaitingDSI)
      _ = try await stager.prepare(.none)
      var keys: [String] = []
      var token = ""
      repeat {
        let page = try await support.support.listKeys(
          .with {
            $0.uid = "ens1a"
            $0.pageSize = 1
            $0.pageToken = token
          }, metadata: support.metadata)
        #expect(page.keys.count <= 1)
        keys += page.keys.map(\.serial)
        token = page.nextPageToken
      } while !token.isEmpty
      let all = try await support.support.listKeys(.with { $0.uid = "ens1a" }, metadata: support.metadata).keys.map(
        \.serial)
      #expect(keys == all)
      #expect(keys.count >= 2)

      var ids: [Int64] = []
      token = ""
      repeat {
        let page = try await support.support.listOutbox(
          .with {
            $0.deliveryState = .pending
            $0.pageSize = 2
            $0.pageToken = token
          }, metadata: support.metadata)
        #expect(page.messages.count <= 2)
        #expect(page.messages.allSatisfy { $0.deliveryState == .pending && $0.state == "PENDING" })
        ids += page.messages.map(\.id)
        token = page.nextPageToken
      } while !token.isEmpty
      let everything = try await support.support.listOutbox(
        .with {
          $0.deliveryState = .pending
          $0.pageSize = 500
        }, metadata: support.metadata
      ).messages.map(\.id)
      #expect(ids == everything)
      #expect(ids.count >= 4)
      #expect(Set(ids).count == ids.count)
    }
  }
}

extension ContractTests {
  @Test(
    "one reply builder: a booked request reads the same, place and appointment included, from GetRenewal, ListMyRenewals, SearchRenewals, WatchRenewal and the change that booked it",
    .timeLimit(.minutes(1)))
  func oneReplyBuilder() async throws {
    try await withAcademy { _, client in
      let stager = try await Stager(client)
      let ready = try await stager.prepare(.readyForPickup)
      let agent = stager.agent
      let booked = try await agent.renewals.bookPickup(
        .with {
          $0.requestID = ready.id
          $0.slotID = ready.slotID
          $0.expectedVersion = ready.version
        }, metadata: agent.metadata
      ).renewal
      #expect(booked.hasAppointment && booked.hasPickupPlace && !booked.pickupPlace.name.isEmpty)
      var got = try await agent.get(ready.id)
      got.history = []
      #expect(got == booked)
      let mine = try await agent.renewals.listMyRenewals(.init(), metadata: agent.metadata).renewals.first {
        $0.requestID == ready.id
      }
      #expect(mine == booked)
      let found = try await stager.support.support.searchRenewals(
        .with {
          $0.agentUid = "ens1a"
          $0.statuses = [.pickupBooked]
        }, metadata: stager.support.metadata
      ).renewals.first
      #expect(found == booked)
      // The basic view: the list's columns of the same request, every other field unset.
      let listed = try await stager.support.support.searchRenewals(
        .with {
          $0.agentUid = "ens1a"
          $0.statuses = [.pickupBooked]
          $0.view = .basic
        }, metadata: stager.support.metadata
      ).renewals.first
      #expect(
        listed
          == .with {
            $0.requestID = booked.requestID
            $0.agentUid = booked.agentUid
            $0.keyType = booked.keyType
            $0.status = booked.status
            $0.version = booked.version
            $0.routed = booked.routed
            $0.createdAt = booked.createdAt
            $0.updatedAt = booked.updatedAt
            $0.routing.n1.person.uid = booked.routing.n1.person.uid
            if booked.routing.hasN2 { $0.routing.n2.person.uid = booked.routing.n2.person.uid }
          })
      let watched = try await agent.renewals.watchRenewal(.with { $0.requestID = ready.id }, metadata: agent.metadata) {
        response in
        for try await message in response.messages { return message.renewal }
        return Okey_V1_Renewal()
      }
      #expect(watched == booked)
    }
  }
}

extension ContractTests {
  @Test("every domain enum value crosses the wire and comes back as itself (the mappings are derived by name)")
  func enumMappings() throws {
    for value in RenewalStatus.allCases {
      let wire: Okey_V1_RenewalStatus = Wire.status(value)
      let back = try Wire.status(wire)
      #expect(wire != .unspecified && back == value, "\(value)")
    }
    for value in KeyType.allCases {
      let back = try Wire.keyType(Wire.keyType(value))
      #expect(Wire.keyType(value) != .unspecified && back == value)
    }
    for value in Motif.allCases {
      let back = try Wire.motif(Wire.motif(value))
      #expect(Wire.motif(value) != .unspecified && back == value)
    }
    for value in MobilePlatform.allCases {
      let back = try Wire.platform(Wire.platform(value))
      #expect(Wire.platform(value) != .unspecified && back == value)
    }
    #expect(Wire.role(.dsi) == .dsi && Wire.role(.system) == .unspecified)
    let unset = #expect(throws: APIError.self) { try Wire.motif(Okey_V1_Motif.unspecified) }
    #expect(unset?.message.contains("required: one of MOTIF_EXPIRED") == true)
    #expect(try Wire.view(.unspecified) == .full && Wire.view(.basic) == .basic && Wire.view(.full) == .full)
    #expect(throws: APIError.self) { try Wire.view(.UNRECOGNIZED(3)) }
    let unknown = #expect(throws: APIError.self) { try Wire.keyType(Okey_V1_KeyType.UNRECOGNIZED(99)) }
    #expect(unknown?.message == "key_type: unknown value 99: use one of KEY_TYPE_SOFTWARE, KEY_TYPE_HARDWARE")
  }
}
