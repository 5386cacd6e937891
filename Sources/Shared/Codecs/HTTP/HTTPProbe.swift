/// The Code Red checks of one web server, each request on its own connection: `GET /` for the
/// `Server:` header, then (on IIS) `GET /NULL.ida` and `GET` of each root.exe path.
public struct HTTPProbe: Sendable {
    public enum Action: Equatable, Sendable {
        /// Close any current connection and open a new one to the same host and port; then call
        /// ``HTTPProbe/connected()`` or ``HTTPProbe/connectFailed()``.
        case openConnection
        case send([UInt8])
        case wait
        case finished(HTTPProbeResult)
    }

    private var pending: [String]
    private var current: HTTPExchange?
    private let host: String
    private let onlyIfIIS: Bool
    public private(set) var result = HTTPProbeResult()

    /// - Parameters:
    ///   - host: the `Host` header (IP address or name).
    ///   - onlyIfIIS: skip the .ida and root.exe requests unless `Server:` says IIS (default).
    public init(host: String, onlyIfIIS: Bool = true) {
        self.host = host
        self.onlyIfIIS = onlyIfIIS
        self.pending = ["/"]
    }

    public mutating func start() -> Action { next() }

    public mutating func connected() -> Action {
        guard var exchange = current else { return next() }
        let action = exchange.connected()
        current = exchange
        return map(action)
    }

    public mutating func connectFailed() -> Action {
        guard let exchange = current else { return next() }
        record(path: exchange.request.path, outcome: .noResponse(reason: "connection failed"))
        current = nil
        if exchange.request.path == "/" { pending = [] }
        return next()
    }

    public mutating func receive(_ bytes: [UInt8]) -> Action {
        guard var exchange = current else { return next() }
        let action = exchange.receive(bytes)
        current = exchange
        return map(action)
    }

    public mutating func connectionClosed() -> Action {
        guard var exchange = current else { return next() }
        let action = exchange.connectionClosed()
        current = exchange
        return map(action)
    }

    public mutating func timedOut() -> Action {
        guard var exchange = current else { return next() }
        let action = exchange.timedOut()
        current = exchange
        return map(action)
    }

    private mutating func map(_ action: HTTPExchange.Action) -> Action {
        switch action {
        case .send(let bytes): return .send(bytes)
        case .wait: return .wait
        case .finished(let outcome):
            if let path = current?.request.path { record(path: path, outcome: outcome) }
            current = nil
            return next()
        }
    }

    private mutating func record(path: String, outcome: HTTPExchange.Outcome) {
        switch path {
        case "/":
            if case .response(let response) = outcome {
                result.rootStatus = response.head.statusCode
                result.serverHeader = response.head["Server"]
                if let cut = response.headCutOff {
                    result.rootHeadCutOff = cut
                    result.notes.append("the response head to GET / was cut off (\(cut)); read what came before")
                }
                if let version = IIS.version(serverHeader: result.serverHeader) {
                    result.iisVersion = "\(version.major).\(version.minor)"
                }
                if !onlyIfIIS || result.iisVersion != nil {
                    pending.append(IIS.idaProbePath)
                    pending.append(contentsOf: IIS.rootExePaths)
                }
            } else {
                result.notes.append(Self.describe(outcome))
            }
        case IIS.idaProbePath:
            if case .response(let response) = outcome {
                if let evidence = IIS.idaMappingEvidence(response) {
                    result.idaMapping = .live(evidence: evidence)
                } else {
                    result.idaMapping = .notFound(status: response.head.statusCode)
                }
            } else {
                result.idaMapping = .unknown(reason: Self.describe(outcome))
            }
        default:
            if case .response(let response) = outcome {
                result.rootExe.append((path, IIS.classifyRootExe(response)))
            } else {
                result.rootExe.append((path, .inconclusive(status: 0)))
            }
        }
    }

    private static func describe(_ outcome: HTTPExchange.Outcome) -> String {
        switch outcome {
        case .response(let r): "HTTP \(r.head.statusCode)"
        case .notHTTP(let evidence): "not HTTP: \(evidence)"
        case .noResponse(let reason): reason
        }
    }

    private mutating func next() -> Action {
        while !pending.isEmpty {
            let path = pending.removeFirst()
            guard let request = try? HTTPRequest(path: path, host: host) else { continue }
            current = HTTPExchange(request: request)
            return .openConnection
        }
        return .finished(result)
    }
}

/// What ``HTTPProbe`` found.
public struct HTTPProbeResult: Equatable, Sendable {
    public enum IDAMapping: Equatable, Sendable {
        case notTested
        /// The .ida request reached the Index Server ISAPI handler (evidence: the error page text).
        case live(evidence: String)
        /// Answered without the IDQ error page.
        case notFound(status: Int)
        case unknown(reason: String)
    }

    /// Status of `GET /`.
    public var rootStatus: Int?
    /// The `Server:` header, sanitized.
    public var serverHeader: String?
    /// "5.0" for `Microsoft-IIS/5.0`.
    public var iisVersion: String?
    public var idaMapping: IDAMapping = .notTested
    /// root.exe presence per path.
    public var rootExe: [(path: String, presence: IIS.RootExePresence)] = []
    public var notes: [String] = []
    /// Why the head of the answer to `GET /` was cut off, when it was (the fields above are
    /// then what was read before the cut).
    public var rootHeadCutOff: String?

    public init() {}

    /// True when any root.exe path is present (Code Red II).
    public var rootExePresent: Bool {
        rootExe.contains { if case .present = $0.presence { true } else { false } }
    }

    public static func == (lhs: HTTPProbeResult, rhs: HTTPProbeResult) -> Bool {
        lhs.rootStatus == rhs.rootStatus && lhs.serverHeader == rhs.serverHeader && lhs.iisVersion == rhs.iisVersion
            && lhs.idaMapping == rhs.idaMapping && lhs.rootExe.map(\.path) == rhs.rootExe.map(\.path)
            && lhs.rootExe.map(\.presence) == rhs.rootExe.map(\.presence) && lhs.notes == rhs.notes
            && lhs.rootHeadCutOff == rhs.rootHeadCutOff
    }
}
