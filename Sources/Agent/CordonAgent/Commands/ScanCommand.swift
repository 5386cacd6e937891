import ArgumentParser
public struct ScanCommand: AsyncParsableCommand {
    public init() {}
    public func run() async throws {}
}
