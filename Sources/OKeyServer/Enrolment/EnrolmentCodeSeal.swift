import Crypto
import Foundation

/// Seals the provisioning payload of a software token (the QR code's text) for the database with
/// AES-GCM under a key kept outside it (`enrolment.codeKeyFile`), bound to its request: the store,
/// its backups and its logs only ever hold the sealed bytes.
struct EnrolmentCodeSeal: Sendable {
  let key: SymmetricKey

  /// The seal of the key file at `path` (at least 32 bytes; the SHA-256 of its content is the key).
  init(keyFile path: String) throws {
    key = SymmetricKey(data: SHA256.hash(data: try AuditKeyFile.read(path, setting: "enrolment.codeKeyFile")))
  }

  /// The sealed form of `payload` for request `requestID`.
  func seal(_ payload: String, requestID: String) throws -> [UInt8] {
    let box = try AES.GCM.seal(Data(payload.utf8), using: key, authenticating: Data(requestID.utf8))
    guard let combined = box.combined else { throw ConfigurationError("enrolment code: AES-GCM gave no bytes") }
    return [UInt8](combined)
  }

  /// A keyed digest of `payload` (HMAC-SHA256 under the seal's key), standing for it where a plain
  /// hash would let anyone holding the database test guesses (the idempotency fingerprint).
  func digest(_ payload: String) -> String {
    HMAC<SHA256>.authenticationCode(for: Data(payload.utf8), using: key).map { String(format: "%02x", $0) }.joined()
  }

  /// The payload sealed for `requestID`; throws when the bytes were not sealed with this key for it.
  func open(_ sealed: [UInt8], requestID: String) throws -> String {
    let box = try AES.GCM.SealedBox(combined: Data(sealed))
    let plain = try AES.GCM.open(box, using: key, authenticating: Data(requestID.utf8))
    return String(decoding: plain, as: UTF8.self)
  }
}
