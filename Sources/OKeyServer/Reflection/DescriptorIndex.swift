import Foundation
import OKeyAPI
import SwiftProtobuf

/// The files, symbols and services of a `FileDescriptorSet`, indexed for server reflection.
public struct DescriptorIndex: Sendable {
  private var filesByName: [String: Google_Protobuf_FileDescriptorProto] = [:]
  private var fileBySymbol: [String: String] = [:]
  private var extensionsByType: [String: [Int32: String]] = [:]
  private var knownTypes: Set<String> = []

  /// Full names of the services described, sorted.
  public private(set) var serviceNames: [String] = []

  /// Indexes a serialized `google.protobuf.FileDescriptorSet`.
  public init(serializedDescriptorSet bytes: [UInt8]) throws {
    let set = try Google_Protobuf_FileDescriptorSet(serializedBytes: bytes)
    for file in set.file {
      filesByName[file.name] = file
      let prefix = file.package.isEmpty ? "" : file.package + "."
      for service in file.service {
        let name = prefix + service.name
        serviceNames.append(name)
        fileBySymbol[name] = file.name
        for method in service.method { fileBySymbol[name + "." + method.name] = file.name }
      }
      for message in file.messageType { index(message: message, prefix: prefix, file: file.name) }
      for enumeration in file.enumType { fileBySymbol[prefix + enumeration.name] = file.name }
      for field in file.extension { index(extension: field, prefix: prefix, file: file.name) }
    }
    serviceNames.sort()
  }

  /// The index of the descriptor set generated from OKEY's protos.
  public static func okey() throws -> DescriptorIndex {
    guard let data = Data(base64Encoded: OKeyDescriptorSet.base64, options: .ignoreUnknownCharacters) else {
      throw DescriptorIndexError(message: "the embedded descriptor set is not valid base64; run Tools/generate-protos")
    }
    return try DescriptorIndex(serializedDescriptorSet: [UInt8](data))
  }

  private mutating func index(message: Google_Protobuf_DescriptorProto, prefix: String, file: String) {
    let name = prefix + message.name
    fileBySymbol[name] = file
    knownTypes.insert(name)
    for nested in message.nestedType { index(message: nested, prefix: name + ".", file: file) }
    for enumeration in message.enumType { fileBySymbol[name + "." + enumeration.name] = file }
    for field in message.field { fileBySymbol[name + "." + field.name] = file }
    for field in message.extension { index(extension: field, prefix: name + ".", file: file) }
  }

  private mutating func index(extension field: Google_Protobuf_FieldDescriptorProto, prefix: String, file: String) {
    fileBySymbol[prefix + field.name] = file
    let extendee = field.extendee.hasPrefix(".") ? String(field.extendee.dropFirst()) : field.extendee
    extensionsByType[extendee, default: [:]][field.number] = file
  }

  /// The file named `name` followed by every file it depends on, transitively, each serialized;
  /// nil when no such file is known.
  public func fileWithDependencies(named name: String) -> [[UInt8]]? {
    guard filesByName[name] != nil else { return nil }
    var ordered: [String] = []
    var seen: Set<String> = []
    var pending = [name]
    while let next = pending.popLast() {
      guard !seen.contains(next), let file = filesByName[next] else { continue }
      seen.insert(next)
      ordered.append(next)
      pending.append(contentsOf: file.dependency.reversed())
    }
    return ordered.compactMap { filesByName[$0].flatMap { try? $0.serializedBytes() } }
  }

  /// The name of the file declaring the fully-qualified `symbol`, if known.
  public func fileName(declaring symbol: String) -> String? {
    fileBySymbol[symbol]
  }

  /// The name of the file declaring extension `number` of `type`, if known.
  public func fileName(extending type: String, number: Int32) -> String? {
    extensionsByType[type]?[number]
  }

  /// The extension numbers declared for `type`, or nil when the type is unknown.
  public func extensionNumbers(of type: String) -> [Int32]? {
    guard knownTypes.contains(type) else { return nil }
    return (extensionsByType[type].map { Array($0.keys) } ?? []).sorted()
  }
}

/// The embedded descriptor set could not be read.
public struct DescriptorIndexError: Error, CustomStringConvertible {
  /// What went wrong.
  public var message: String
  public var description: String { message }
}
