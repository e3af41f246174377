import Crypto

/// SHA-256 digests written as 64 lower-case hex characters, as the store keeps them (audit chain,
/// token hashes, document fingerprints).
public enum SHA256Hex {
  private static let digits = Array("0123456789abcdef".utf8)

  /// The lower-case hex SHA-256 of `bytes`.
  public static func digest(_ bytes: [UInt8]) -> String {
    hex(SHA256.hash(data: bytes))
  }

  /// `bytes` as lower-case hex, two characters per byte.
  public static func hex(_ bytes: some Sequence<UInt8>) -> String {
    var out: [UInt8] = []
    out.reserveCapacity(64)
    for byte in bytes {
      out.append(digits[Int(byte >> 4)])
      out.append(digits[Int(byte & 0x0F)])
    }
    return String(decoding: out, as: UTF8.self)
  }
}
