/// Where and how to reach okeyd.
public struct OKeyClientSettings: Sendable, Equatable {
  /// Host name or IP address of okeyd.
  public var host: String
  /// TCP port of okeyd.
  public var port: Int
  /// Session token or service-account key sent as `authorization: Bearer`; nil for anonymous calls.
  public var token: String?
  /// For a service account: the uid of the person it acts for (`x-okey-on-behalf-of`).
  public var onBehalfOf: String?
  /// Longest time one call may take before it fails with ``OKeyClientError/Kind/deadlineExceeded``.
  /// Default 10 seconds.
  public var timeout: Duration
  /// TLS: nil for plaintext.
  public var tls: TLS?

  /// TLS settings of a connection.
  public struct TLS: Sendable, Equatable {
    /// PEM CA certificates that sign okeyd's certificate; nil for the system's trust roots.
    public var caCertificateFile: String?
    /// PEM client certificate and key, for okeyd configured with client-certificate verification.
    public var clientCertificateFile: String?
    public var clientKeyFile: String?

    /// Creates TLS settings.
    public init(caCertificateFile: String? = nil, clientCertificateFile: String? = nil, clientKeyFile: String? = nil) {
      self.caCertificateFile = caCertificateFile
      self.clientCertificateFile = clientCertificateFile
      self.clientKeyFile = clientKeyFile
    }
  }

  /// Creates settings for okeyd at `host`:`port`.
  public init(
    host: String, port: Int, token: String? = nil, onBehalfOf: String? = nil, timeout: Duration = .seconds(10)
  ) {
    self.host = host
    self.port = port
    self.token = token
    self.onBehalfOf = onBehalfOf
    self.timeout = timeout
    self.tls = nil
  }

  /// Creates settings from `HOST:PORT`, e.g. `127.0.0.1:50051`.
  public init(server: String, token: String? = nil, onBehalfOf: String? = nil, timeout: Duration = .seconds(10)) throws
  {
    guard let colon = server.lastIndex(of: ":"), colon != server.startIndex,
      let port = Int(server[server.index(after: colon)...]), (1...65535).contains(port)
    else {
      throw OKeyClientError(
        kind: .invalidArgument, message: "the server address must be HOST:PORT, e.g. 127.0.0.1:50051, not '\(server)'")
    }
    var host = String(server[..<colon])
    if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
    self.init(host: host, port: port, token: token, onBehalfOf: onBehalfOf, timeout: timeout)
  }
}
