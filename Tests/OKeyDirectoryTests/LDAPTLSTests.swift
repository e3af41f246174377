import OKeyDirectory
import OKeyTestSupport
import Testing

@Suite("LDAP over TLS", .serialized)
struct LDAPTLSTests {
  @Test("StartTLS and ldaps:// reach the directory when its CA is trusted, and fail cleanly when it is not")
  func tls() async throws {
    try await withTemporaryDirectory { folder in
      let pki = try await TestPKI.make(in: folder)
      try await withSlapd(tlsFolder: folder) { slapd in
        let ldapsPort = try #require(slapd.ldapsPort)
        try await withLDAPDirectory(
          slapd,
          configure: {
            $0.startTLS = true
            $0.caCertificateFile = pki.ca
          }
        ) { directory in
          let found = try await directory.people(withUID: "ens1a")
          #expect(found.count == 1)
        }
        try await withLDAPDirectory(
          slapd,
          configure: {
            $0.uri = "ldaps://127.0.0.1:\(ldapsPort)"
            $0.caCertificateFile = pki.ca
          }
        ) { directory in
          let found = try await directory.people(withUID: "ens1a")
          #expect(found.count == 1)
          #expect(
            try await directory.checkPassword(
              dn: "uid=ens1a,ou=people,dc=ac-test,dc=fr", password: SlapdFixture.personPassword))
        }
        // A CA that did not sign slapd's certificate: refused, as an error, not a connection in clear.
        try await withTemporaryDirectory { other in
          let stranger = try await TestPKI.make(in: other)
          try await withLDAPDirectory(
            slapd,
            configure: {
              $0.uri = "ldaps://127.0.0.1:\(ldapsPort)"
              $0.caCertificateFile = stranger.ca
            }
          ) { directory in
            await #expect(throws: DirectoryError.self) { _ = try await directory.people(withUID: "ens1a") }
          }
        }
      }
    }
  }
}
