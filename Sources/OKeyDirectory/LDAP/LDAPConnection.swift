import CLDAP

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Search scopes (libldap's macros are casts and do not import).
enum LDAPScope: Int32 {
  case base = 0
  case oneLevel = 1
  case subtree = 2
}

/// Connection settings, from ``DirectoryConfiguration``.
struct LDAPConnectionSettings: Sendable {
  var uri: String
  var startTLS: Bool
  var caCertificateFile: String?
  var requireCertificate: Bool
  var networkTimeoutSeconds: Double
  var operationTimeoutSeconds: Double
}

/// One libldap handle. Its calls block: it lives on one thread of the directory's thread pool at a
/// time and is never shared between threads concurrently.
final class LDAPConnection {
  private let handle: OpaquePointer
  private let operationTimeout: Double

  /// Opens a handle (libldap connects at the first operation; StartTLS connects at once).
  init(_ settings: LDAPConnectionSettings) throws(DirectoryError) {
    var ld: OpaquePointer?
    let rc = ldap_initialize(&ld, settings.uri)
    guard rc == LDAP_SUCCESS, let ld else {
      throw DirectoryError(
        .configuration,
        "the directory URI '\(settings.uri)' is not valid (\(Self.describe(rc))): use ldap://HOST:PORT or ldaps://HOST:PORT"
      )
    }
    handle = ld
    operationTimeout = settings.operationTimeoutSeconds
    var version: Int32 = 3
    ldap_set_option(ld, LDAP_OPT_PROTOCOL_VERSION, &version)
    var network = Self.timeval(seconds: settings.networkTimeoutSeconds)
    ldap_set_option(ld, LDAP_OPT_NETWORK_TIMEOUT, &network)
    var operation = Self.timeval(seconds: settings.operationTimeoutSeconds)
    ldap_set_option(ld, LDAP_OPT_TIMEOUT, &operation)
    ldap_set_option(ld, LDAP_OPT_REFERRALS, nil)  // LDAP_OPT_OFF
    if settings.uri.lowercased().hasPrefix("ldaps://") || settings.startTLS {
      if let file = settings.caCertificateFile {
        _ = file.withCString { ldap_set_option(ld, LDAP_OPT_X_TLS_CACERTFILE, $0) }
      }
      var require: Int32 = settings.requireCertificate ? LDAP_OPT_X_TLS_DEMAND : LDAP_OPT_X_TLS_NEVER
      ldap_set_option(ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &require)
      var isServer: Int32 = 0
      ldap_set_option(ld, LDAP_OPT_X_TLS_NEWCTX, &isServer)
    }
    if settings.startTLS {
      let rc = ldap_start_tls_s(ld, nil, nil)
      guard rc == LDAP_SUCCESS else {
        ldap_unbind_ext(ld, nil, nil)
        throw Self.error(rc, doing: "StartTLS with \(settings.uri)")
      }
    }
  }

  deinit {
    ldap_unbind_ext(handle, nil, nil)
  }

  /// A simple bind. Throws `.invalidCredentials` for a wrong DN or password.
  func bind(dn: String, password: String) throws(DirectoryError) {
    var secret = Array(password.utf8CString.dropLast())
    let rc = secret.withUnsafeMutableBufferPointer { buffer -> Int32 in
      var credentials = berval(bv_len: ber_len_t(buffer.count), bv_val: buffer.baseAddress)
      return ldap_sasl_bind_s(handle, dn, nil, &credentials, nil, nil, nil)
    }
    // Do not keep the password around in memory longer than needed.
    for index in secret.indices { secret[index] = 0 }
    guard rc == LDAP_SUCCESS else { throw Self.error(rc, doing: "bind") }
  }

  /// Searches and returns the entries with the requested attributes (names lower-cased).
  func search(base: String, scope: LDAPScope, filter: String, attributes: [String], sizeLimit: Int32)
    throws(DirectoryError) -> [DirectoryEntry]
  {
    var cAttributes: [UnsafeMutablePointer<CChar>?] = attributes.map { strdup($0) } + [nil]
    defer { for pointer in cAttributes { free(pointer) } }
    var result: OpaquePointer?
    var timeout = Self.timeval(seconds: operationTimeout)
    let rc = cAttributes.withUnsafeMutableBufferPointer { attrs in
      ldap_search_ext_s(
        handle, base, scope.rawValue, filter, attrs.baseAddress, 0, nil, nil, &timeout, sizeLimit, &result)
    }
    defer { if let result { ldap_msgfree(result) } }
    if rc == LDAP_NO_SUCH_OBJECT { return [] }
    guard rc == LDAP_SUCCESS || rc == LDAP_SIZELIMIT_EXCEEDED else { throw Self.error(rc, doing: "search") }
    var entries: [DirectoryEntry] = []
    var entry = ldap_first_entry(handle, result)
    while let current = entry {
      entries.append(read(current))
      entry = ldap_next_entry(handle, current)
    }
    return entries
  }

  private func read(_ entry: OpaquePointer) -> DirectoryEntry {
    var dn = ""
    if let pointer = ldap_get_dn(handle, entry) {
      dn = String(cString: pointer)
      ldap_memfree(pointer)
    }
    var attributes: [String: [String]] = [:]
    var ber: OpaquePointer?
    var name = ldap_first_attribute(handle, entry, &ber)
    while let current = name {
      let key = String(cString: current).lowercased()
      if let values = ldap_get_values_len(handle, entry, current) {
        var index = 0
        var list: [String] = []
        while let value = values[index] {
          let buffer = UnsafeRawBufferPointer(start: value.pointee.bv_val, count: Int(value.pointee.bv_len))
          list.append(String(decoding: buffer, as: UTF8.self))
          index += 1
        }
        ldap_value_free_len(values)
        attributes[key, default: []] += list
      }
      ldap_memfree(current)
      name = ldap_next_attribute(handle, entry, ber)
    }
    if let ber { ber_free(ber, 0) }
    return DirectoryEntry(dn: dn, attributes: attributes)
  }

  // MARK: Helpers

  static func timeval(seconds: Double) -> Glibc.timeval {
    let whole = Int(seconds)
    return Glibc.timeval(tv_sec: whole, tv_usec: Int((seconds - Double(whole)) * 1_000_000))
  }

  static func describe(_ rc: Int32) -> String {
    String(cString: ldap_err2string(rc))
  }

  static func error(_ rc: Int32, doing what: String) -> DirectoryError {
    switch rc {
    case LDAP_SERVER_DOWN, LDAP_CONNECT_ERROR, LDAP_UNAVAILABLE, LDAP_BUSY:
      return DirectoryError(.unavailable, "the directory cannot be reached (\(describe(rc)) during \(what))")
    case LDAP_TIMEOUT, LDAP_TIMELIMIT_EXCEEDED:
      return DirectoryError(.unavailable, "the directory did not answer in time (\(what))")
    case LDAP_INVALID_CREDENTIALS:
      return DirectoryError(.invalidCredentials, "invalid credentials (\(what))")
    case LDAP_INVALID_DN_SYNTAX:
      return DirectoryError(.invalidDN, "not a valid distinguished name (\(what))")
    default:
      return DirectoryError(.protocolError, "the directory refused the \(what): \(describe(rc)) (\(rc))")
    }
  }
}

/// RFC 4515 escaping and DN normalisation from libldap.
public enum LDAPText {
  /// `value` escaped for use inside a search filter (RFC 4515): `*`, `(`, `)`, `\`, NUL and
  /// non-ASCII bytes become `\XX`.
  public static func escapeFilterValue(_ value: String) -> String {
    var bytes = Array(value.utf8)
    if bytes.isEmpty { return "" }
    return bytes.withUnsafeMutableBufferPointer { buffer -> String in
      guard let base = buffer.baseAddress else { return "" }
      var input = berval(
        bv_len: ber_len_t(buffer.count), bv_val: UnsafeMutableRawPointer(base).assumingMemoryBound(to: CChar.self))
      var output = berval()
      guard ldap_bv2escaped_filter_value(&input, &output) == 0, let escaped = output.bv_val else {
        return manualEscape(value)
      }
      defer { ber_memfree(escaped) }
      return String(decoding: UnsafeRawBufferPointer(start: escaped, count: Int(output.bv_len)), as: UTF8.self)
    }
  }

  static func manualEscape(_ value: String) -> String {
    var out = ""
    for byte in value.utf8 {
      switch byte {
      case UInt8(ascii: "*"), UInt8(ascii: "("), UInt8(ascii: ")"), UInt8(ascii: "\\"), 0, 0x80...0xFF:
        out += "\\" + (byte < 16 ? "0" : "") + String(byte, radix: 16)
      default:
        out.unicodeScalars.append(Unicode.Scalar(byte))
      }
    }
    return out
  }

  /// The DN in a canonical form for comparison (libldap's LDAPv3 normalisation, lower-cased), or nil
  /// when it is not a valid DN.
  public static func normalizeDN(_ dn: String) -> String? {
    var output: UnsafeMutablePointer<CChar>?
    let rc = ldap_dn_normalize(dn, UInt32(LDAP_DN_FORMAT_LDAP), &output, UInt32(LDAP_DN_FORMAT_LDAPV3))
    guard rc == LDAP_SUCCESS, let output else { return nil }
    defer { ldap_memfree(output) }
    return String(cString: output).lowercased()
  }
}
