import Foundation
import NIOCertificateReloading
import NIOSSL
import Synchronization
import X509

/// The listener's certificate chain and private key, read from their files at start and again on
/// reload (SIGHUP): new handshakes use the new pair, open connections keep theirs. A pair that
/// cannot be read, or whose key does not match the certificate, is refused and the old one kept.
final class TLSCertificateReloader: CertificateReloader {
  private let current: Mutex<NIOSSLContextConfigurationOverride>

  /// Reads the pair `tls` names; throws a ``ConfigurationError`` naming the file at fault.
  init(_ tls: OKeyConfiguration.TLSSettings) throws {
    current = Mutex(try Self.read(tls))
  }

  var sslContextConfigurationOverride: NIOSSLContextConfigurationOverride { current.withLock { $0 } }

  /// Reads the pair again; on error the pair in use stays.
  func reload(_ tls: OKeyConfiguration.TLSSettings) throws {
    let fresh = try Self.read(tls)
    current.withLock { $0 = fresh }
  }

  static func read(_ tls: OKeyConfiguration.TLSSettings) throws -> NIOSSLContextConfigurationOverride {
    let chain: [NIOSSLCertificate]
    let key: NIOSSLPrivateKey
    do {
      chain = try NIOSSLCertificate.fromPEMFile(tls.certificateFile)
    } catch {
      throw ConfigurationError("tls.certificateFile: cannot read a PEM certificate chain from \(tls.certificateFile)")
    }
    do {
      key = try NIOSSLPrivateKey(file: tls.privateKeyFile, format: .pem)
    } catch {
      throw ConfigurationError("tls.privateKeyFile: cannot read a PEM private key from \(tls.privateKeyFile)")
    }
    guard let leaf = chain.first else {
      throw ConfigurationError("tls.certificateFile: \(tls.certificateFile) holds no certificate")
    }
    // A certificate rotated without its key (or the other way round) would fail every handshake.
    let certificate = try Certificate(derEncoded: try leaf.toDERBytes())
    let privateKey = try Certificate.PrivateKey(pemEncoded: String(contentsOfFile: tls.privateKeyFile, encoding: .utf8))
    guard certificate.publicKey == privateKey.publicKey else {
      throw ConfigurationError(
        "tls: the key in \(tls.privateKeyFile) is not the key of the certificate in \(tls.certificateFile)")
    }
    var override = NIOSSLContextConfigurationOverride()
    override.certificateChain = chain.map { .certificate($0) }
    override.privateKey = .privateKey(key)
    return override
  }
}
