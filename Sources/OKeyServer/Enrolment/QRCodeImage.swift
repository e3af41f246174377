import CQRencode

/// The QR code of an enrolment payload as a PNG image: libqrencode draws the modules (error
/// correction M), this file writes them as a black-and-white PNG with its quiet zone.
enum QRCodeImage {
  /// The PNG of `text`'s QR code, `scale` pixels a module with a quiet zone of 4 modules; nil when
  /// the text does not fit a QR code.
  static func png(of text: String, scale: Int = 6) -> [UInt8]? {
    guard let code = QRcode_encodeString8bit(text, 0, QR_ECLEVEL_M) else { return nil }
    defer { QRcode_free(code) }
    let modules = Int(code.pointee.width)
    guard modules > 0, let data = code.pointee.data else { return nil }
    let quiet = 4
    let side = (modules + 2 * quiet) * scale
    let rowBytes = (side + 7) / 8
    var pixels: [UInt8] = []
    pixels.reserveCapacity(side * (rowBytes + 1))
    for y in 0..<side {
      pixels.append(0)  // filter: none
      var row = [UInt8](repeating: 0xFF, count: rowBytes)  // 1 is white
      let moduleY = y / scale - quiet
      for x in 0..<side {
        let moduleX = x / scale - quiet
        guard (0..<modules).contains(moduleY), (0..<modules).contains(moduleX) else { continue }
        if data[moduleY * modules + moduleX] & 1 == 1 { row[x / 8] &= ~(0x80 >> UInt8(x % 8)) }
      }
      pixels += row
    }
    var header: [UInt8] = []
    header += bigEndian(UInt32(side)) + bigEndian(UInt32(side))
    header += [1, 0, 0, 0, 0]  // bit depth 1, greyscale, deflate, no filter method, no interlace
    return [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A] + chunk("IHDR", header)
      + chunk("IDAT", zlibStored(pixels)) + chunk("IEND", [])
  }

  static func bigEndian(_ value: UInt32) -> [UInt8] {
    [UInt8(value >> 24), UInt8((value >> 16) & 0xFF), UInt8((value >> 8) & 0xFF), UInt8(value & 0xFF)]
  }

  static func chunk(_ type: String, _ body: [UInt8]) -> [UInt8] {
    let typed = Array(type.utf8) + body
    return bigEndian(UInt32(body.count)) + typed + bigEndian(crc32(typed))
  }

  /// A zlib stream of stored (uncompressed) deflate blocks: a QR image is small, and this needs no
  /// compressor.
  static func zlibStored(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x78, 0x01]
    var offset = 0
    repeat {
      let length = min(65_535, bytes.count - offset)
      let final: UInt8 = offset + length == bytes.count ? 1 : 0
      out.append(final)
      out += [UInt8(length & 0xFF), UInt8(length >> 8), UInt8(~length & 0xFF), UInt8((~length >> 8) & 0xFF)]
      out += bytes[offset..<offset + length]
      offset += length
    } while offset < bytes.count
    var a: UInt32 = 1
    var b: UInt32 = 0
    for byte in bytes {
      a = (a + UInt32(byte)) % 65_521
      b = (b + a) % 65_521
    }
    return out + bigEndian(b << 16 | a)
  }

  static let crcTable: [UInt32] = (0..<256).map { n in
    var c = UInt32(n)
    for _ in 0..<8 { c = c & 1 == 1 ? 0xEDB8_8320 ^ (c >> 1) : c >> 1 }
    return c
  }

  static func crc32(_ bytes: [UInt8]) -> UInt32 {
    var c: UInt32 = 0xFFFF_FFFF
    for byte in bytes { c = crcTable[Int((c ^ UInt32(byte)) & 0xFF)] ^ (c >> 8) }
    return c ^ 0xFFFF_FFFF
  }
}
