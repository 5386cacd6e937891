import Foundation
import Testing
@testable import CordonAgent

/// The production runner against harmless real processes; each one it starts ends by itself or
/// is killed by the runner through its own PID.
@Suite struct BoundedProcessRunnerTests {
    let runner = BoundedProcessRunner()

    @Test func capturesOutputAndExitStatus() throws {
        let sh = try #require(runner.locate("sh"))
        let result = runner.run(sh, arguments: ["-c", "echo out; echo err >&2; exit 3"], timeout: .seconds(10), outputLimit: 1024)
        #expect(result.termination == .exited(3))
        #expect(String(decoding: result.standardOutput, as: UTF8.self) == "out\n")
        #expect(String(decoding: result.standardError, as: UTF8.self) == "err\n")
        #expect(!result.outputTruncated)
    }

    @Test func killsAProcessThatRunsPastItsTimeout() throws {
        let sleep = try #require(runner.locate("sleep"))
        let start = ContinuousClock.now
        let result = runner.run(sleep, arguments: ["30"], timeout: .milliseconds(300), outputLimit: 1024)
        #expect(result.termination == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func timeoutHoldsWhenTheChildClosesItsOutputAndStays() throws {
        let sh = try #require(runner.locate("sh"))
        let start = ContinuousClock.now
        let result = runner.run(sh, arguments: ["-c", "exec >&- 2>&-; sleep 30"], timeout: .milliseconds(300), outputLimit: 1024)
        #expect(result.termination == .timedOut)
        #expect(ContinuousClock.now - start < .seconds(10))
    }

    @Test func cutsOutputAtTheCap() throws {
        let yes = try #require(runner.locate("yes"))
        let result = runner.run(yes, arguments: [], timeout: .seconds(10), outputLimit: 4096)
        #expect(result.outputTruncated)
        #expect(result.standardOutput.count == 4096)
    }

    @Test func missingToolsAreNotLocated() {
        #expect(runner.locate("cordon-no-such-tool") == nil)
        let result = runner.run("/nonexistent/tool", arguments: [], timeout: .seconds(1), outputLimit: 10)
        if case .failedToStart = result.termination {} else {
            Issue.record("expected failedToStart, got \(result.termination)")
        }
    }
}
