import GRPCCore
import OKeyAPI
import OKeyServer
import OKeyTestSupport
import SwiftProtobuf
import Testing

@Suite("server reflection")
struct ReflectionTests {
  /// Every RPC named by DESIGN §5, by service.
  static let contract: [String: [String]] = [
    "okey.v1.AuthService": ["Login", "WhoAmI"],
    "okey.v1.RenewalService": [
      "StartRenewal", "AddDocument", "RemoveDocument", "SetValidator", "SubmitRenewal", "CancelRenewal",
      "GetRenewal", "ListMyRenewals", "ChooseMobilePlatform", "GetReasonsCatalogue", "GetCharter", "SignCharter",
      "ListPickupSlots",
      "BookPickup", "WatchRenewal", "MarkElementsSent", "GetEnrolmentCode", "ConfirmEnrolmentScanned", "CancelPickup",
    ],
    "okey.v1.ApprovalService": ["ListPendingApprovals", "Approve", "Reject", "ListKeysToHandOver", "HandOverKey"],
    "okey.v1.OperationsService": [
      "ListWork", "ConfirmEnrolmentElements", "AttachEnrolmentCode", "Finalize", "PublishPickupSlots", "RecordHandover",
      "PublishCharter", "Reroute", "CancelRenewal", "RequestElementsAgain", "RecordNoShow", "AllowPhoneChange",
      "ImportKeys",
    ],
    "okey.v1.SupportService": [
      "SearchRenewals", "GetRenewal", "ResolveRouting", "ListKeys", "VerifyAuditTrail", "Stats", "ExplainRenewal",
      "Report",
    ],
  ]

  func ask(
    _ address: ListenAddress,
    _ requests: [Grpc_Reflection_V1_ServerReflectionRequest]
  ) async throws -> [Grpc_Reflection_V1_ServerReflectionResponse] {
    try await withClient(address) { client in
      let reflection = Grpc_Reflection_V1_ServerReflection.Client(wrapping: client)
      return try await reflection.serverReflectionInfo(
        requestProducer: { writer in try await writer.write(contentsOf: requests) },
        onResponse: { response in try await response.messages.reduce(into: []) { $0.append($1) } }
      )
    }
  }

  @Test("list_services names every okey.v1 service and the standard ones")
  func listServices() async throws {
    try await withOKeyDaemon { _, address in
      let responses = try await ask(address, [.with { $0.listServices = "" }])
      let names = Set(responses.first?.listServicesResponse.service.map(\.name) ?? [])
      #expect(names.isSuperset(of: Self.contract.keys))
      #expect(names.contains("grpc.health.v1.Health"))
      #expect(names.contains("grpc.reflection.v1.ServerReflection"))
    }
  }

  @Test("the descriptors served hold every RPC of the contract, with their files' imports")
  func everyRPCDescribed() async throws {
    try await withOKeyDaemon { _, address in
      let requests: [Grpc_Reflection_V1_ServerReflectionRequest] = Self.contract.keys.sorted().map { name in
        .with { $0.fileContainingSymbol = name }
      }
      let responses = try await ask(address, requests)
      #expect(responses.count == Self.contract.count)
      var methods: [String: [String]] = [:]
      var files: Set<String> = []
      for response in responses {
        for bytes in response.fileDescriptorResponse.fileDescriptorProto {
          let file = try Google_Protobuf_FileDescriptorProto(serializedBytes: bytes)
          files.insert(file.name)
          for service in file.service { methods[file.package + "." + service.name] = service.method.map(\.name) }
        }
      }
      for (service, rpcs) in Self.contract {
        #expect(Set(methods[service] ?? []).isSuperset(of: rpcs), "\(service)")
      }
      #expect(files.contains("google/protobuf/timestamp.proto"))
      #expect(files.contains("okey/v1/types.proto"))
    }
  }

  @Test(
    "an unknown symbol or file gets a NOT_FOUND error response on a stream that stays open", .timeLimit(.minutes(1)))
  func unknownSymbol() async throws {
    try await withOKeyDaemon { _, address in
      let responses = try await ask(
        address,
        [
          .with { $0.fileContainingSymbol = "okey.v1.Nothing" },
          .with { $0.fileByFilename = "../../etc/passwd" },
          .with { $0.fileContainingSymbol = "okey.v1.RenewalService.StartRenewal" },
        ]
      )
      #expect(responses.count == 3)
      #expect(responses[0].errorResponse.errorCode == Int32(RPCError.Code.notFound.rawValue))
      #expect(responses[1].errorResponse.errorCode == Int32(RPCError.Code.notFound.rawValue))
      #expect(responses[2].fileDescriptorResponse.fileDescriptorProto.isEmpty == false)
    }
  }

  @Test("the embedded descriptor set indexes nested types and enum names")
  func indexNestedSymbols() throws {
    let index = try DescriptorIndex.okey()
    #expect(
      index.fileName(declaring: "grpc.health.v1.HealthCheckResponse.ServingStatus") == "grpc/health/v1/health.proto")
    #expect(index.fileName(declaring: "okey.v1.RenewalStatus") == "okey/v1/types.proto")
    #expect(index.extensionNumbers(of: "okey.v1.Renewal") == [])
    #expect(index.extensionNumbers(of: "okey.v1.Nope") == nil)
  }
}
