import CordonShared
import Foundation
import Synchronization
@testable import CordonAgent

#if canImport(Glibc)
import Glibc
#endif

/// Locates the fixture trees next to the tests (through `#filePath`, not bundle resources).
enum InventoryFixtures {
    /// `Tests/AgentTests/Fixtures/inventory`, with symbolic links resolved.
    static func directory(_ filePath: String = #filePath) -> String {
        let real = realpath(filePath, nil).map { pointer -> String in
            defer { free(pointer) }
            return String(cString: pointer)
        } ?? filePath
        return URL(fileURLWithPath: real).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("Fixtures/inventory").path
    }

    static func path(_ relative: String) -> String {
        directory() + "/" + relative
    }

    /// 2025-01-15T12:00:00Z: the fixtures' logs and shadow ages are written against it.
    static let now = Date(timeIntervalSince1970: 1_736_942_400)

    static func context(
        root: String, now: Date = now, isRoot: Bool = true, limits: InventoryLimits = .standard,
        journal: CollectionContext.JournalSource = .none, ruleset: CollectionContext.RulesetSource? = nil,
        runner: StubInventoryCommandRunner = StubInventoryCommandRunner()
    ) -> CollectionContext {
        CollectionContext(
            root: root, now: now, limits: limits, isRoot: isRoot, timeZone: TimeZone(identifier: "UTC")!,
            journal: journal, ruleset: ruleset ?? .file(root + "/no-ruleset.json"), commandRunner: runner
        )
    }
}

/// A command runner that knows only the tools it was given, and records what was run.
final class StubInventoryCommandRunner: InventoryCommandRunner {
    let tools: [String: InventoryCommandResult]
    private let calls = Mutex<[[String]]>([])

    init(tools: [String: InventoryCommandResult] = [:]) {
        self.tools = tools
    }

    var recordedCalls: [[String]] { calls.withLock { $0 } }

    func locate(_ name: String) -> String? {
        tools[name] == nil ? nil : "/stub/bin/" + name
    }

    func run(_ executable: String, arguments: [String], timeout: Duration, outputLimit: Int) -> InventoryCommandResult {
        calls.withLock { $0.append([executable] + arguments) }
        let name = String(executable.split(separator: "/").last ?? "")
        return tools[name] ?? InventoryCommandResult(termination: .failedToStart("no such tool"), standardOutput: Data())
    }
}

/// A scratch directory, optionally filled with a copy of a fixture tree; removed by `remove()`.
struct ScratchTree {
    let path: String

    init(copying fixture: String? = nil) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("cordon-inv-\(UUID().uuidString)").path
        if let fixture {
            try FileManager.default.copyItem(atPath: InventoryFixtures.path(fixture), toPath: path)
        } else {
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        }
    }

    func write(_ relative: String, _ contents: String, mode: Int = 0o644) throws {
        try write(relative, Data(contents.utf8), mode: mode)
    }

    func write(_ relative: String, _ data: Data, mode: Int = 0o644) throws {
        let url = URL(fileURLWithPath: path + "/" + relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try data.write(to: url)
        _ = Glibc.chmod(url.path, mode_t(mode))
    }

    func chmod(_ relative: String, _ mode: Int) {
        _ = Glibc.chmod(path + "/" + relative, mode_t(mode))
    }

    func remove() {
        // Give back permissions taken away by a test, then delete. Never follow a symbolic link:
        // fixtures link to /dev/null and /lib/systemd, and chmod through them would change the machine.
        _ = try? FileManager.default.subpathsOfDirectory(atPath: path).forEach { sub in
            var st = stat()
            let full = path + "/" + sub
            if lstat(full, &st) == 0, (st.st_mode & S_IFMT) != S_IFLNK { Glibc.chmod(full, 0o755) }
        }
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Runs a synchronous body with the file-system UID of `nobody` on the current thread only
/// (setfsuid is per thread and drops CAP_DAC_OVERRIDE with it), so a root test run can see what
/// an unprivileged agent sees. Supplementary groups are kept: make test files owner-only.
/// Without root the body simply runs as the current user.
enum Unprivileged {
    private typealias SetFSUID = @convention(c) (UInt32) -> Int32

    static var available: Bool { geteuid() == 0 && setfsuid != nil }

    private static let setfsuid: SetFSUID? = {
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "setfsuid") else { return nil }
        return unsafeBitCast(symbol, to: SetFSUID.self)
    }()

    static func run<T>(_ body: () throws -> T) rethrows -> T {
        guard geteuid() == 0, let setfsuid else { return try body() }
        _ = setfsuid(65534)
        defer { _ = setfsuid(0) }
        return try body()
    }
}
