import CordonShared
import Foundation

/// One piece of evidence of a failed logon, before aggregation.
struct FailedLogonEvent: Equatable, Sendable {
    var date: Date
    var source: String
    var account: String
    var evidence: FailedLogonAggregate.Evidence
    /// How many attempts the line stands for (`message repeated 3 times`, `PAM 2 more ...`).
    var count: Int = 1
}
