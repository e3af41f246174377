import Foundation
import GRPCCore
import OKeyAPI
import SwiftProtobuf

/// The standard `grpc.reflection.v1.ServerReflection` service, answering from a ``DescriptorIndex``,
/// so that stock gRPC tools can list and call okeyd's services without the .proto files.
public struct ReflectionService: Grpc_Reflection_V1_ServerReflection.SimpleServiceProtocol {
  let index: DescriptorIndex

  /// Creates the service over `index`.
  public init(index: DescriptorIndex) {
    self.index = index
  }

  public func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    for try await message in request {
      try await response.write(answer(message))
    }
  }

  /// The answer to one reflection request.
  func answer(_ request: Grpc_Reflection_V1_ServerReflectionRequest) -> Grpc_Reflection_V1_ServerReflectionResponse {
    var response = Grpc_Reflection_V1_ServerReflectionResponse()
    response.validHost = request.host
    response.originalRequest = request
    switch request.messageRequest {
    case .listServices:
      response.listServicesResponse = .with {
        $0.service = index.serviceNames.map { name in .with { $0.name = name } }
      }
    case .fileByFilename(let name):
      response.messageResponse = files(named: name, missing: "no file named '\(name)'")
    case .fileContainingSymbol(let symbol):
      let name = index.fileName(declaring: symbol) ?? ""
      response.messageResponse = files(named: name, missing: "no symbol named '\(symbol)'")
    case .fileContainingExtension(let request):
      let name = index.fileName(extending: request.containingType, number: request.extensionNumber) ?? ""
      response.messageResponse = files(
        named: name,
        missing: "no extension \(request.extensionNumber) of '\(request.containingType)'"
      )
    case .allExtensionNumbersOfType(let type):
      if let numbers = index.extensionNumbers(of: type) {
        response.allExtensionNumbersResponse = .with {
          $0.baseTypeName = type
          $0.extensionNumber = numbers
        }
      } else {
        response.errorResponse = Self.notFound("no message type named '\(type)'")
      }
    case .none:
      response.errorResponse = .with {
        $0.errorCode = Int32(RPCError.Code.invalidArgument.rawValue)
        $0.errorMessage = "the reflection request names no question: set one field of message_request"
      }
    }
    return response
  }

  private func files(
    named name: String,
    missing: String
  ) -> Grpc_Reflection_V1_ServerReflectionResponse.OneOf_MessageResponse {
    guard let files = index.fileWithDependencies(named: name) else {
      return .errorResponse(Self.notFound(missing))
    }
    return .fileDescriptorResponse(.with { $0.fileDescriptorProto = files.map { Data($0) } })
  }

  private static func notFound(_ message: String) -> Grpc_Reflection_V1_ErrorResponse {
    .with {
      $0.errorCode = Int32(RPCError.Code.notFound.rawValue)
      $0.errorMessage = message
    }
  }
}

/// The same reflection service under its older `grpc.reflection.v1alpha` name, which some stock
/// clients (Python's grpcio-reflection among them) still use. The messages are identical on the wire.
public struct ReflectionServiceV1Alpha: Grpc_Reflection_V1alpha_ServerReflection.SimpleServiceProtocol {
  let v1: ReflectionService

  /// Creates the service over `index`.
  public init(index: DescriptorIndex) {
    self.v1 = ReflectionService(index: index)
  }

  public func serverReflectionInfo(
    request: RPCAsyncSequence<Grpc_Reflection_V1alpha_ServerReflectionRequest, any Error>,
    response: RPCWriter<Grpc_Reflection_V1alpha_ServerReflectionResponse>,
    context: ServerContext
  ) async throws {
    for try await message in request {
      let asV1 = try Grpc_Reflection_V1_ServerReflectionRequest(
        serializedBytes: try message.serializedBytes() as [UInt8])
      let answer: [UInt8] = try v1.answer(asV1).serializedBytes()
      try await response.write(try Grpc_Reflection_V1alpha_ServerReflectionResponse(serializedBytes: answer))
    }
  }
}
