import GRPCCore
import GRPCNIOTransportHTTP2
import OKeyAPI

/// A connection to okeyd with one method per call, taking and returning friendly types.
///
/// ```swift
/// let settings = try OKeyClientSettings(server: "127.0.0.1:50051")
/// let status = try await OKeyClient.with(settings) { try await $0.servingStatus() }
/// ```
public struct OKeyClient: Sendable {
  typealias HTTP2ClientTransportType = HTTP2ClientTransport.Posix
  let grpc: GRPCClient<HTTP2ClientTransport.Posix>
  /// The settings this client uses.
  public let settings: OKeyClientSettings

  /// Connects to okeyd, runs `body` with a client, then closes the connection.
  public static func with<Result: Sendable>(
    _ settings: OKeyClientSettings,
    _ body: (OKeyClient) async throws -> Result
  ) async throws -> Result {
    let target: any ResolvableTarget =
      settings.host.contains(":")
      ? .ipv6(address: settings.host, port: settings.port)
      : (settings.host.allSatisfy { $0.isNumber || $0 == "." }
        ? .ipv4(address: settings.host, port: settings.port)
        : .dns(host: settings.host, port: settings.port))
    let security: HTTP2ClientTransport.Posix.TransportSecurity
    if let tls = settings.tls {
      security = .tls { config in
        if let ca = tls.caCertificateFile { config.trustRoots = .certificates([.file(path: ca, format: .pem)]) }
        if let certificate = tls.clientCertificateFile, let key = tls.clientKeyFile {
          config.certificateChain = [.file(path: certificate, format: .pem)]
          config.privateKey = .file(path: key, format: .pem)
        }
      }
    } else {
      security = .plaintext
    }
    let transport = try HTTP2ClientTransport.Posix(target: target, transportSecurity: security)
    return try await withGRPCClient(transport: transport) { grpc in
      try await body(OKeyClient(grpc: grpc, settings: settings))
    }
  }

  /// The same connection, calling with other settings (token, on-behalf-of, timeout); the address
  /// and TLS stay those of the connection.
  public func with(_ settings: OKeyClientSettings) -> OKeyClient {
    OKeyClient(grpc: grpc, settings: settings)
  }

  var options: CallOptions {
    var options = CallOptions.defaults
    options.timeout = settings.timeout
    return options
  }

  var metadata: Metadata {
    var metadata: Metadata = [:]
    if let token = settings.token { metadata.addString("Bearer \(token)", forKey: "authorization") }
    if let uid = settings.onBehalfOf { metadata.addString(uid, forKey: "x-okey-on-behalf-of") }
    return metadata
  }

  /// Runs a call, turning gRPC errors into ``OKeyClientError``.
  func call<Response: Sendable>(_ body: () async throws -> Response) async throws -> Response {
    do {
      return try await body()
    } catch let error as RPCError {
      throw OKeyClientError(error)
    }
  }

  // MARK: Health

  /// The serving status of okeyd as a whole ("") or of one service, by the gRPC health protocol.
  public func servingStatus(of service: String = "") async throws -> ServingStatus {
    let health = Grpc_Health_V1_Health.Client(wrapping: grpc)
    let response = try await call {
      try await health.check(.with { $0.service = service }, metadata: metadata, options: options)
    }
    return ServingStatus(response.status)
  }
}

/// The serving status of a server or service, as the gRPC health protocol reports it.
public enum ServingStatus: String, Sendable, Equatable {
  /// Ready for calls.
  case serving = "SERVING"
  /// Up but not taking calls (e.g. shutting down).
  case notServing = "NOT_SERVING"
  /// The server does not know (or does not say).
  case unknown = "UNKNOWN"
  /// The service name is unknown to the server (Watch only).
  case serviceUnknown = "SERVICE_UNKNOWN"

  init(_ status: Grpc_Health_V1_HealthCheckResponse.ServingStatus) {
    switch status {
    case .serving: self = .serving
    case .notServing: self = .notServing
    case .serviceUnknown: self = .serviceUnknown
    default: self = .unknown
    }
  }
}
