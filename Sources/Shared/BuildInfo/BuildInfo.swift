/// What the binaries were built from. `generatedBuildCommit` is written before each build by
/// Plugins/BuildInfoPlugin (from git, or from `CORDON_BUILD_COMMIT`); it is `nil` when neither
/// was there to ask.
public enum BuildInfo {
    /// The git commit (12 hex digits, `-dirty` when tracked files had changes), or `nil`.
    public static var commit: String? { generatedBuildCommit }
}
