/// The enrolment instructions an agent reads after choosing the phone platform of a software key:
/// steps per platform and language, written by the academy (configuration), with three placeholders
/// filled when they are shown: `{mailbox}` (where the elements go), `{requestId}`,
/// `{documentationURL}` and `{pin}` (what becomes of the PIN: the old key's, or one to define for a
/// first key).
public struct EnrolmentGuide: Sendable, Hashable {
  /// The placeholders a step may use.
  public static let placeholders = ["{mailbox}", "{requestId}", "{documentationURL}", "{pin}"]

  /// Steps by platform, then by language (`fr`, `en`).
  public var steps: [MobilePlatform: [String: [String]]]
  /// Where the agent sends the enrolment elements.
  public var mailbox: String
  /// The academy's documentation of the procedure; empty for none.
  public var documentationURL: String

  /// Creates a guide.
  public init(steps: [MobilePlatform: [String: [String]]], mailbox: String, documentationURL: String = "") {
    self.steps = steps
    self.mailbox = mailbox
    self.documentationURL = documentationURL
  }

  /// What `{pin}` says, by language: the PIN of the old key stays, or a first key's PIN is defined with
  /// the OTP system (never through OKEY).
  public static func pinSentence(language: String, firstKey: Bool) -> String {
    switch (language, firstKey) {
    case ("en", false): return "Your PIN stays the one of your old key."
    case ("en", true): return "This is your first key: define its PIN with the OTP system, never in OKEY."
    case (_, false): return "Votre code PIN reste celui de votre ancienne clé."
    case (_, true):
      return "C'est votre première clé : définissez son code PIN avec le système OTP, jamais dans OKEY."
    }
  }

  /// The last step of a phone change: the old phone's token is removed.
  public static func oldPhoneStep(language: String) -> String {
    language == "en"
      ? "Once the new key is active, remove the token from your old phone."
      : "Une fois la nouvelle clé active, supprimez le jeton de votre ancien téléphone."
  }

  /// The steps for `platform` in `language` (French when that language has none), placeholders
  /// filled; a phone change ends with the removal of the old phone's token.
  public func steps(
    for platform: MobilePlatform, language: String, requestID: String, firstKey: Bool = false,
    phoneChange: Bool = false
  ) -> [String] {
    let byLanguage = steps[platform] ?? Self.standardSteps[platform] ?? [:]
    let chosen = byLanguage[language] ?? byLanguage["fr"] ?? []
    let filled = chosen.map { step in
      step.replacing("{mailbox}", with: mailbox)
        .replacing("{requestId}", with: requestID)
        .replacing("{documentationURL}", with: documentationURL)
        .replacing("{pin}", with: Self.pinSentence(language: language, firstKey: firstKey))
    }
    return phoneChange ? filled + [Self.oldPhoneStep(language: language)] : filled
  }

  /// The brace-delimited words of `step` that are not placeholders (a typo such as `{mail}`).
  public static func unknownPlaceholders(in step: String) -> [String] {
    var found: [String] = []
    var rest = Substring(step)
    while let open = rest.firstIndex(of: "{") {
      guard let close = rest[open...].firstIndex(of: "}") else { break }
      let word = String(rest[open...close])
      if !placeholders.contains(word) { found.append(word) }
      rest = rest[rest.index(after: close)...]
    }
    return found
  }

  /// The steps when the token comes by QR code (`enrolment.mode: qr`): install the authenticator,
  /// read the code in OKEY once and scan it, say so, sign the charter; what becomes of the PIN.
  public static let qrCodeSteps: [MobilePlatform: [String: [String]]] = [
    .android: qrSteps(store: ("le Google Play Store", "the Google Play Store")),
    .ios: qrSteps(store: ("l'App Store", "the App Store")),
  ]

  static func qrSteps(store: (fr: String, en: String)) -> [String: [String]] {
    [
      "fr": [
        "Installez l'application d'authentification depuis \(store.fr).",
        "Attendez le courriel qui annonce le QR code de votre nouveau jeton (demande {requestId}).",
        "Ouvrez OKEY, connecté avec votre identifiant académique, affichez le QR code et scannez-le avec l'application : il ne s'affiche qu'une fois.",
        "Dites dans OKEY que le code est scanné, puis signez la charte. {pin}",
      ],
      "en": [
        "Install the authenticator app from \(store.en).",
        "Wait for the mail announcing the QR code of your new token (request {requestId}).",
        "Open OKEY, signed in with your academic login, show the QR code and scan it with the app: it is shown only once.",
        "Say in OKEY that the code is scanned, then sign the charter. {pin}",
      ],
    ]
  }

  /// Today's steps: install the authenticator, add a token, send its elements by mail, wait for the
  /// DSI, sign the charter; what becomes of the PIN.
  public static let standardSteps: [MobilePlatform: [String: [String]]] = [
    .android: [
      "fr": [
        "Installez l'application d'authentification depuis le Google Play Store.",
        "Ouvrez-la et ajoutez un nouveau jeton ; notez les éléments d'enrôlement qu'elle affiche (numéro de série et code d'activation).",
        "Envoyez ces éléments depuis votre messagerie académique à {mailbox}, avec le numéro de votre demande {requestId}.",
        "Attendez la confirmation de la DSI, puis signez la charte. {pin}",
      ],
      "en": [
        "Install the authenticator application from the Google Play Store.",
        "Open it and add a new token; note the enrolment elements it shows (serial and activation code).",
        "Send those elements from your academic mailbox to {mailbox}, with your request id {requestId}.",
        "Wait for the DSI to confirm; then sign the charter. {pin}",
      ],
    ],
    .ios: [
      "fr": [
        "Installez l'application d'authentification depuis l'App Store.",
        "Ouvrez-la et ajoutez un nouveau jeton ; notez les éléments d'enrôlement qu'elle affiche (numéro de série et code d'activation).",
        "Envoyez ces éléments depuis votre messagerie académique à {mailbox}, avec le numéro de votre demande {requestId}.",
        "Attendez la confirmation de la DSI, puis signez la charte. {pin}",
      ],
      "en": [
        "Install the authenticator application from the App Store.",
        "Open it and add a new token; note the enrolment elements it shows (serial and activation code).",
        "Send those elements from your academic mailbox to {mailbox}, with your request id {requestId}.",
        "Wait for the DSI to confirm; then sign the charter. {pin}",
      ],
    ],
  ]
}
