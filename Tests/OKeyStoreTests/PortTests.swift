import Foundation
import OKeyTestSupport
import Testing

/// The layers stay apart: the domain imports nothing, and the store port no database engine (the
/// SQLite store and a PostgreSQL one are its adapters).
@Suite("module boundaries")
struct PortTests {
  static func imports(of module: String) throws -> Set<String> {
    let folder = TestPaths.packageRoot + "/Sources/" + module
    var found: Set<String> = []
    for file in try FileManager.default.contentsOfDirectory(atPath: folder) where file.hasSuffix(".swift") {
      let text = try String(contentsOfFile: folder + "/" + file, encoding: .utf8)
      for line in text.split(separator: "\n") {
        let words = line.split(separator: " ")
        if let index = words.firstIndex(of: "import"), index + 1 < words.count,
          words[..<index].allSatisfy({ $0.hasPrefix("@") || $0 == "package" || $0 == "public" })
        {
          found.insert(String(words[index + 1]))
        }
      }
    }
    return found
  }

  @Test("OKeyDomain imports nothing; OKeyStorePort imports no database engine")
  func boundaries() throws {
    #expect(try Self.imports(of: "OKeyDomain").isEmpty)
    let port = try Self.imports(of: "OKeyStorePort")
    #expect(port.isSubset(of: ["Crypto", "Foundation", "OKeyDomain"]), "\(port)")
    #expect(try Self.imports(of: "OKeyStore").contains("GRDB"), "the check reads imports at all")
  }
}
