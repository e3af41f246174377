import OKeyDirectory
import OKeyDomain
import OKeyStore
import Yams

/// Refuses a configuration file that names a setting okeyd does not have, or gives an enumerated
/// setting a value outside its list, naming the setting's path and the closest known name: a typo
/// (`databse:`) must not start okeyd with every default.
enum SettingsCheck {
  /// Settings whose keys are data, not setting names.
  static let freeKeyed: Set<String> = ["routing.fallbacks"]

  /// The values each enumerated setting accepts, by path (`[]` stands for any index).
  static let enumerated: [String: [String]] = [
    "logLevel": OKeyConfiguration.logLevels,
    "logFormat": OKeyConfiguration.logFormats,
    "database.durability": Durability.allCases.map(\.rawValue),
    "database.kind": OKeyConfiguration.Database.Kind.allCases.map(\.rawValue),
    "routing.strategies[]": RoutingConfiguration.Strategy.allCases.map(\.rawValue),
    "routing.validatorChoice": ValidatorChoice.allCases.map(\.rawValue),
    "routing.secondDegreeValidators": RoutingConfiguration.SecondDegreeValidators.allCases.map(\.rawValue),
    "enrolment.mode": ["mailbox", "qr"],
    "serviceAccounts[].roles[]": OKeyConfiguration.ServiceAccount.Role.allCases.map(\.rawValue),
    "mail.language": OKeyConfiguration.mailLanguages,
  ]

  /// Every setting okeyd knows, as a YAML tree: the defaults, with each optional setting filled.
  static func knownSettings() throws -> Node {
    var full = OKeyConfiguration()
    full.tls = .init(certificateFile: "", privateKeyFile: "", clientCAFile: "")
    full.metricsListen = full.listen
    full.serviceAccounts = [.init(name: "", keySHA256: "", clientCertificateSubject: "")]
    full.audit.keyFile = ""
    full.enrolment.codeKeyFile = ""
    full.directory.caCertificateFile = ""
    full.routing.validatorsGroupDN = ""
    return try Yams.compose(yaml: YAMLEncoder().encode(full)) ?? .mapping([:])
  }

  /// Throws a ``ConfigurationError`` for the first unknown setting or value of `file`.
  static func check(_ file: Node, source: String) throws {
    try walk(file, known: knownSettings(), path: "", pattern: "", source: source)
  }

  private static func walk(_ node: Node, known: Node, path: String, pattern: String, source: String) throws {
    if freeKeyed.contains(pattern) { return }
    if let allowed = enumerated[pattern], let value = node.scalar?.string, !allowed.contains(value) {
      let hint = closest(to: value, in: allowed).map { "did you mean \($0)? " } ?? ""
      throw ConfigurationError(
        "\(source): unknown value '\(value)' for \(path): \(hint)one of \(allowed.joined(separator: ", "))")
    }
    switch node {
    case .mapping(let mapping):
      guard let knownMapping = known.mapping else { return }
      for (key, value) in mapping {
        let name = key.string ?? ""
        let childPath = path.isEmpty ? name : "\(path).\(name)"
        guard let knownValue = knownMapping[name] else {
          let names: [String] = Array(knownMapping.keys.compactMap(\.string))
          let hint =
            closest(to: name, in: names).map { "did you mean \($0)?" }
            ?? "the settings here are \(names.sorted().joined(separator: ", "))"
          throw ConfigurationError("\(source): unknown setting \(childPath): \(hint)")
        }
        try walk(
          value, known: knownValue, path: childPath, pattern: pattern.isEmpty ? name : "\(pattern).\(name)",
          source: source)
      }
    case .sequence(let sequence):
      // A list's elements all have the shape of the first known element (or are scalars).
      guard let element = known.sequence?.first else {
        for (index, item) in sequence.enumerated() {
          try walk(item, known: .scalar(.init("")), path: "\(path)[\(index)]", pattern: "\(pattern)[]", source: source)
        }
        return
      }
      for (index, item) in sequence.enumerated() {
        try walk(item, known: element, path: "\(path)[\(index)]", pattern: "\(pattern)[]", source: source)
      }
    default:
      return
    }
  }

  /// The known name nearest `name` when it is near enough to be a typo of it.
  static func closest(to name: String, in names: [String]) -> String? {
    let scored = names.map { ($0, distance(name.lowercased(), $0.lowercased())) }.min {
      $0.1 < $1.1 || ($0.1 == $1.1 && $0.0 < $1.0)
    }
    guard let (best, score) = scored, score <= max(2, name.count / 3) else { return nil }
    return best
  }

  /// Levenshtein distance.
  static func distance(_ a: String, _ b: String) -> Int {
    let a = Array(a)
    let b = Array(b)
    guard !a.isEmpty else { return b.count }
    guard !b.isEmpty else { return a.count }
    var previous = Array(0...b.count)
    for i in 1...a.count {
      var current = [i] + Array(repeating: 0, count: b.count)
      for j in 1...b.count {
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
      }
      previous = current
    }
    return previous[b.count]
  }
}
