/// The media types accepted for supporting documents, recognised by their first bytes.
public enum DocumentMediaType: String, Sendable, Hashable, Codable, CaseIterable {
  case pdf = "application/pdf"
  case png = "image/png"
  case jpeg = "image/jpeg"

  /// The type the content's magic bytes announce, or nil for anything else.
  public static func sniff(_ content: [UInt8]) -> DocumentMediaType? {
    if content.starts(with: [0x25, 0x50, 0x44, 0x46, 0x2D]) { return .pdf }  // %PDF-
    if content.starts(with: [0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]) { return .png }
    if content.count >= 4, content.starts(with: [0xFF, 0xD8, 0xFF]) { return .jpeg }
    return nil
  }

  /// True when the content ends the way a whole file of this type ends: a PDF's `%%EOF` within its
  /// last 1 KiB, a PNG's `IEND` chunk, a JPEG's end-of-image marker `FF D9` (trailing white space or
  /// NUL padding allowed). A file cut short, or bytes of another kind behind a borrowed header, fail.
  public func isComplete(_ content: [UInt8]) -> Bool {
    switch self {
    case .pdf:
      let tail = content.suffix(1024)
      let marker: [UInt8] = Array("%%EOF".utf8)
      guard tail.count >= marker.count else { return false }
      let bytes = Array(tail)
      for start in 0...(bytes.count - marker.count) where Array(bytes[start..<(start + marker.count)]) == marker {
        return true
      }
      return false
    case .png:
      // The IEND chunk: length 0, type IEND, CRC AE 42 60 82.
      let end: [UInt8] = [0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4E, 0x44, 0xAE, 0x42, 0x60, 0x82]
      return Array(Self.trimmed(content).suffix(end.count)) == end
    case .jpeg:
      return Array(Self.trimmed(content).suffix(2)) == [0xFF, 0xD9]
    }
  }

  private static func trimmed(_ content: [UInt8]) -> ArraySlice<UInt8> {
    var slice = content[...]
    while let last = slice.last, last == 0x00 || last == 0x0A || last == 0x0D || last == 0x20 {
      slice = slice.dropLast()
    }
    return slice
  }

  /// The extension stored names get.
  public var fileExtension: String {
    switch self {
    case .pdf: return "pdf"
    case .png: return "png"
    case .jpeg: return "jpg"
    }
  }
}

/// A document that passed the rules, ready to be stored.
public struct AcceptedDocument: Sendable, Hashable {
  /// The sanitised name.
  public var filename: String
  /// The type recognised from the content.
  public var mediaType: DocumentMediaType
  /// The catalogue kind the uploader gave.
  public var kind: String
  /// The bytes.
  public var content: [UInt8]

  /// Creates an accepted document; use ``DocumentRules/inspect(filename:claimedMediaType:kind:content:catalogue:)``
  /// for uploads.
  public init(filename: String, mediaType: DocumentMediaType, kind: String, content: [UInt8]) {
    self.filename = filename
    self.mediaType = mediaType
    self.kind = kind
    self.content = content
  }
}

/// What a request keeps about each of its documents (the content lives in the store).
public struct DocumentSummary: Sendable, Hashable, Codable {
  /// Identifier.
  public var id: String
  /// Sanitised name.
  public var filename: String
  /// Recognised type.
  public var mediaType: DocumentMediaType
  /// Catalogue kind.
  public var kind: String
  /// Size in bytes.
  public var sizeBytes: Int
  /// Lower-case hex SHA-256 of the content.
  public var sha256: String
  /// When it was added.
  public var addedAt: Instant

  /// Creates a summary.
  public init(
    id: String, filename: String, mediaType: DocumentMediaType, kind: String, sizeBytes: Int, sha256: String,
    addedAt: Instant
  ) {
    self.id = id
    self.filename = filename
    self.mediaType = mediaType
    self.kind = kind
    self.sizeBytes = sizeBytes
    self.sha256 = sha256
    self.addedAt = addedAt
  }
}

/// Limits and checks for supporting documents: type by content, size, count, kinds, names.
public struct DocumentRules: Sendable, Hashable {
  /// Largest document, in bytes. Default 5 MiB.
  public var maxBytes: Int
  /// Most documents on one request. Default 10.
  public var maxCount: Int

  /// Creates rules; the defaults are 5 MiB and 10 documents.
  public init(maxBytes: Int = 5 * 1024 * 1024, maxCount: Int = 10) {
    self.maxBytes = maxBytes
    self.maxCount = maxCount
  }

  /// Checks an upload: the content decides the type (a claimed type that disagrees is refused), the
  /// size is within limits, the kind is one the catalogue knows; the name is sanitised.
  public func inspect(
    filename: String,
    claimedMediaType: String,
    kind: String,
    content: [UInt8],
    catalogue: ReasonCatalogue
  ) -> Result<AcceptedDocument, RenewalRefusal> {
    guard !content.isEmpty else {
      return .failure(.init(.documentLimit, "the document is empty: attach the file's content"))
    }
    guard content.count <= maxBytes else {
      return .failure(
        .init(
          .documentLimit, "the document is \(content.count) bytes; the limit is \(maxBytes) bytes: send a smaller scan")
      )
    }
    guard let mediaType = DocumentMediaType.sniff(content) else {
      return .failure(
        .init(.documentType, "the content is not a PDF, PNG or JPEG file, whatever its name says: send one of those"))
    }
    guard mediaType.isComplete(content) else {
      return .failure(
        .init(
          .documentType,
          "the \(mediaType.fileExtension.uppercased()) file is incomplete or is not what its first bytes say (its end marker is missing): send the whole file"
        ))
    }
    let claimed = claimedMediaType.lowercased().trimmingSpaces
    if !claimed.isEmpty, claimed != mediaType.rawValue, !(claimed == "image/jpg" && mediaType == .jpeg) {
      return .failure(
        .init(
          .documentType,
          "the file is announced as \(claimedMediaType) but its content is \(mediaType.rawValue): send the file as it is"
        ))
    }
    guard catalogue.knownDocumentKinds.contains(kind) else {
      let kinds = catalogue.knownDocumentKinds.sorted().joined(separator: ", ")
      return .failure(
        .init(.invalidField, "kind: '\(kind)' is not a document kind of the catalogue; use one of \(kinds)"))
    }
    return .success(
      AcceptedDocument(
        filename: Self.sanitise(filename, mediaType: mediaType), mediaType: mediaType, kind: kind, content: content)
    )
  }

  /// A safe stored name: the last path component, letters, digits, '.', '-' and '_' only (others
  /// become '_'), no leading dot, at most 100 characters, ending with the type's extension.
  public static func sanitise(_ filename: String, mediaType: DocumentMediaType) -> String {
    let last = filename.split(whereSeparator: { $0 == "/" || $0 == "\\" }).last.map(String.init) ?? ""
    var cleaned = String(
      last.unicodeScalars.map { scalar -> Character in
        let ok =
          (scalar.value < 128)
          && (scalar.properties.isAlphabetic || ("0"..."9").contains(Character(scalar))
            || "._-".unicodeScalars.contains(scalar))
        return ok ? Character(scalar) : "_"
      }
    )
    while cleaned.hasPrefix(".") { cleaned.removeFirst() }
    var stem = cleaned
    if let dot = cleaned.lastIndex(of: ".") { stem = String(cleaned[..<dot]) }
    stem = String(stem.prefix(90))
    if stem.isEmpty || stem.allSatisfy({ $0 == "_" }) { stem = "document" }
    return stem + "." + mediaType.fileExtension
  }
}

extension String {
  /// The text without leading and trailing white space (the domain's texts, the throttle's keys).
  public var trimmingSpaces: String {
    var scalars = Substring(self)
    while let first = scalars.first, first.isWhitespace { scalars.removeFirst() }
    while let last = scalars.last, last.isWhitespace { scalars.removeLast() }
    return String(scalars)
  }
}

/// The reasons catalogue: for each motif, the document kinds it needs.
public struct ReasonCatalogue: Sendable, Hashable {
  /// What one motif needs.
  public struct Entry: Sendable, Hashable {
    /// Document kinds that must each be provided by at least one document.
    public var requiredDocumentKinds: [String]
    /// True when `motif_details` must explain the motif.
    public var requiresDetails: Bool

    /// Creates an entry.
    public init(requiredDocumentKinds: [String], requiresDetails: Bool = false) {
      self.requiredDocumentKinds = requiredDocumentKinds
      self.requiresDetails = requiresDetails
    }
  }

  /// Entries by motif; a motif without entry needs one `"supporting-document"`.
  public var entries: [Motif: Entry]
  /// Every kind an upload may declare (the required ones and optional extras).
  public var knownDocumentKinds: Set<String>

  /// Creates a catalogue; `extraKinds` are accepted on upload without being required.
  public init(entries: [Motif: Entry], extraKinds: Set<String> = ["supporting-document"]) {
    self.entries = entries
    self.knownDocumentKinds = extraKinds.union(entries.values.flatMap(\.requiredDocumentKinds))
  }

  /// The academy's default catalogue.
  public static let standard = ReasonCatalogue(entries: [
    .expired: Entry(requiredDocumentKinds: ["supporting-document"]),
    .lost: Entry(requiredDocumentKinds: ["loss-declaration"]),
    .stolen: Entry(requiredDocumentKinds: ["theft-report"]),
    .broken: Entry(requiredDocumentKinds: ["supporting-document"]),
    .phoneChanged: Entry(requiredDocumentKinds: ["supporting-document"]),
    .typeChange: Entry(requiredDocumentKinds: ["supporting-document"]),
    .other: Entry(requiredDocumentKinds: ["supporting-document"], requiresDetails: true),
    .firstKey: Entry(requiredDocumentKinds: ["supporting-document"]),
  ])

  /// What `motif` needs.
  public func entry(for motif: Motif) -> Entry {
    entries[motif] ?? Entry(requiredDocumentKinds: ["supporting-document"])
  }

  /// The kinds `motif` needs that no document provides, in catalogue order.
  public func missingKinds(for motif: Motif, documents: [DocumentSummary]) -> [String] {
    let provided = Set(documents.map(\.kind))
    return entry(for: motif).requiredDocumentKinds.filter { !provided.contains($0) }
  }
}
