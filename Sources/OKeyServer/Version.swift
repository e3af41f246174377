/// The version of okeyd and okey (the build-info metric and `--version`).
public enum OKeyVersion {
  /// The released version this build is.
  public static let current = "0.9.0"
}
