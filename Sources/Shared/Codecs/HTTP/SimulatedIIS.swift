/// Server side: the answers of a simulated IIS 5.0 host for `/`, `/NULL.ida` and the root.exe paths.
public struct SimulatedIIS: Equatable, Sendable {
    /// "5.0" → `Server: Microsoft-IIS/5.0`.
    public var version: String
    /// The .ida/.idq script mapping is present (MS01-033 exposure).
    public var idaMapped: Bool
    /// Code Red II left root.exe in /scripts and /msadc.
    public var rootExeInstalled: Bool

    public init(version: String = "5.0", idaMapped: Bool = true, rootExeInstalled: Bool = false) {
        self.version = version
        self.idaMapped = idaMapped
        self.rootExeInstalled = rootExeInstalled
    }

    /// The full response (head and body) to a request's bytes.
    public func response(to request: [UInt8]) -> [UInt8] {
        guard let line = HTTPRequest.parseRequestLine(request) else {
            return Self.render(status: 400, reason: "Bad Request", server: server, body: "<html>Bad Request</html>")
        }
        return response(method: line.method, path: line.path)
    }

    /// The full response to a method and path.
    public func response(method: String = "GET", path: String) -> [UInt8] {
        let lower = path.lowercased()
        let file = lower.split(separator: "?").first.map(String.init) ?? lower
        if file == "/" || file == "/default.htm" || file == "/iisstart.asp" {
            return Self.render(status: 200, reason: "OK", server: server,
                               body: "<html><head><title>Under Construction</title></head><body>Under Construction</body></html>")
        }
        if idaMapped, file.hasSuffix(".ida") || file.hasSuffix(".idq") {
            let name = String(path.split(separator: "/").last ?? "NULL.ida").split(separator: "?").first.map(String.init) ?? "NULL.ida"
            return Self.render(status: 200, reason: "OK", server: server,
                               body: "<HTML>The IDQ file C:\\Inetpub\\wwwroot\\\(Evidence.ascii(Array(name.utf8), maxLength: 64)) could not be found.")
        }
        if rootExeInstalled, IIS.rootExePaths.contains(file) {
            return Self.render(status: 502, reason: "Gateway Error", server: server,
                               body: "<head><title>Error in CGI Application</title></head><body><h1>CGI Error</h1>The specified CGI application misbehaved by not returning a complete set of HTTP headers.</body>")
        }
        return Self.render(status: 404, reason: "Object Not Found", server: server,
                           body: "<html><h1>The page cannot be found</h1></html>")
    }

    private var server: String { "Microsoft-IIS/\(version)" }

    static func render(status: Int, reason: String, server: String, body: String) -> [UInt8] {
        let bodyBytes = Array(body.utf8)
        let head = "HTTP/1.1 \(status) \(reason)\r\nServer: \(server)\r\nDate: Sat, 04 Aug 2001 12:00:00 GMT\r\n"
            + "Content-Type: text/html\r\nContent-Length: \(bodyBytes.count)\r\n\r\n"
        return Array(head.utf8) + bodyBytes
    }
}
