import Foundation

/// A throwaway CA, a server certificate for 127.0.0.1 and a client certificate, made with openssl.
public struct TestPKI: Sendable {
  /// The folder holding the files.
  public let folder: String
  public var ca: String { folder + "/ca.pem" }
  public var serverCertificate: String { folder + "/server.pem" }
  public var serverKey: String { folder + "/server.key" }
  public var clientCertificate: String { folder + "/client.pem" }
  public var clientKey: String { folder + "/client.key" }
  /// A second client certificate from the same CA, of another internal system (CN=other-system).
  public var otherClientCertificate: String { folder + "/other.pem" }
  public var otherClientKey: String { folder + "/other.key" }

  /// Makes the CA and both certificates in `folder`.
  public static func make(in folder: String) async throws -> TestPKI {
    let pki = TestPKI(folder: folder)
    let script = """
      set -e
      cd '\(folder)'
      openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj /CN=okey-test-ca 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj /CN=localhost 2>/dev/null
      printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\\n' > san.ext
      openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile san.ext 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj /CN=portal 2>/dev/null
      openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 2>/dev/null
      openssl req -newkey rsa:2048 -nodes -keyout other.key -out other.csr -subj /CN=other-system 2>/dev/null
      openssl x509 -req -in other.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out other.pem -days 2 2>/dev/null
      """
    let result = try await ChildProcess.run("/bin/sh", ["-c", script])
    guard result.status == 0 else { throw ChildProcessError("openssl failed: \(result.error)") }
    return pki
  }
}
