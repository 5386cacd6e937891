import Foundation

/// Failed logons from one source address against one account.
public struct FailedLogonAggregate: Codable, Sendable, Equatable {
    /// Kinds of evidence for a failed logon.
    public enum Evidence: String, Codable, Sendable, CaseIterable {
        /// sshd `Failed password for [invalid user] X from A port P` (also keyboard-interactive).
        case sshdFailedPassword = "sshd-failed-password"
        /// sshd `Invalid user X from A`.
        case sshdInvalidUser = "sshd-invalid-user"
        /// PAM `authentication failure; ... rhost=A user=X`.
        case pamFailure = "pam-authentication-failure"
        /// A binary record in `/var/log/btmp`.
        case btmp
    }

    /// The remote address (or host name as logged); empty when the log did not say.
    public var source: String
    /// The account name tried; empty when the log did not say.
    public var account: String
    /// Estimated number of failed attempts: the highest per-evidence count (the same attempt
    /// is usually logged by several sources, so counts are not added up).
    public var count: Int
    public var first: Date
    public var last: Date
    /// How many events each kind of evidence contributed.
    public var countsByEvidence: [String: Int]
    /// The kinds of evidence seen, sorted.
    public var evidence: [Evidence]

    public init(
        source: String, account: String, count: Int, first: Date, last: Date,
        countsByEvidence: [String: Int], evidence: [Evidence]
    ) {
        self.source = source
        self.account = account
        self.count = count
        self.first = first
        self.last = last
        self.countsByEvidence = countsByEvidence
        self.evidence = evidence
    }
}
