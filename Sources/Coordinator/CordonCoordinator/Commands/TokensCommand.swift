import ArgumentParser
import CordonShared
import Foundation

public struct TokensCommand: AsyncParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "tokens",
        abstract: "Enrollment tokens for new agents.",
        subcommands: [Create.self])

    public init() {}

    public struct Create: AsyncParsableCommand {
        public static let configuration = CommandConfiguration(
            commandName: "create",
            abstract: "Create a one-time enrollment token for a segment and print it.",
            discussion: """
                The token is shown once; the coordinator keeps only its hash. An agent that enrolls with \
                it gets a certificate for the segment. Expired, used-up and unknown tokens are refused.

                Example:
                  cordon tokens create --segment dmz --ttl 1h
                """)

        @OptionGroup public var connection: OperatorOptions

        @Option(name: .long, help: ArgumentHelp("Segment the enrolled agent belongs to.", valueName: "name"))
        public var segment: String

        @Option(name: .long, help: ArgumentHelp("How long the token stays valid (max 30d).", valueName: "duration"))
        public var ttl: String = "1h"

        @Option(name: .long, help: ArgumentHelp("How many agents may enroll with it.", valueName: "n"))
        public var uses: Int = 1

        @Flag(name: .long, help: "Print the result as JSON.")
        public var json = false

        public init() {}

        public func validate() throws {
            guard CordonName.isValid(segment) else { throw ValidationError("--segment must be 1-64 letters, digits, '.', '_' or '-'") }
            guard let seconds = HumanDuration.seconds(ttl), seconds >= 1, seconds <= 30 * 86400 else {
                throw ValidationError("--ttl must be a duration between 1s and 30d, like 1h")
            }
            guard (1...10_000).contains(uses) else { throw ValidationError("--uses must be between 1 and 10000") }
        }

        public func run() async throws {
            try await runReportingErrors {
                let request = TokenCreateRequest(segment: segment, ttlSeconds: HumanDuration.seconds(ttl) ?? 3600, uses: uses)
                let token: TokenCreateResponse = try await connection.withClient { try await $0.post(APIPath.tokens, body: request) }
                if json { return try printJSON(token) }
                print(token.token)
                StandardOutput.writeError("segment \(token.segment), \(token.uses) use(s), expires \(CordonTime.format(token.expiresAt))\n")
            }
        }
    }
}
