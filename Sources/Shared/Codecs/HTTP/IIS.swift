/// Code Red-era IIS checks over HTTP responses.
public enum IIS {
    /// The `Server:` product and version, e.g. "Microsoft-IIS/5.0" → (5, 0). Nil for other servers.
    public static func version(serverHeader: String?) -> (major: Int, minor: Int)? {
        guard let header = serverHeader else { return nil }
        let bytes = Array(header.utf8.prefix(256))
        let product = "microsoft-iis/"
        guard let start = ByteSearch.firstIndex(of: product, in: bytes) else { return nil }
        let rest = bytes[(start + product.utf8.count)...].prefix(8)
        let isDigit: (UInt8) -> Bool = { (0x30...0x39).contains($0) }
        let majorDigits = rest.prefix(while: isDigit)
        guard !majorDigits.isEmpty, majorDigits.count <= 3 else { return nil }
        let major = majorDigits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
        var minor = 0
        let afterMajor = rest.dropFirst(majorDigits.count)
        if afterMajor.first == UInt8(ascii: ".") {
            minor = afterMajor.dropFirst().prefix(while: isDigit).prefix(3).reduce(0) { $0 * 10 + Int($1 - 0x30) }
        }
        return (major, minor)
    }

    /// The path of the Index Server probe.
    public static let idaProbePath = "/NULL.ida"
    /// The paths where Code Red II leaves a copy of cmd.exe.
    public static let rootExePaths = ["/scripts/root.exe", "/msadc/root.exe"]

    /// Whether the IIS error page proves the .ida/.idq ISAPI mapping is live.
    ///
    /// What is matched (case-insensitively, within the first 8 KiB of the body): the page that
    /// only the Index Server ISAPI handler (idq.dll) writes for a missing query file. It comes in
    /// more than one spelling: `<HTML>The IDQ file C:\Inetpub\wwwroot\NULL.ida could not be
    /// found.`, and with an empty file name, `The IDQ file  could not be found.` (two spaces).
    /// What they have in common is "IDQ file" (the handler names its own file type); a page that
    /// names "IDQ" and the requested file (`HTML.*IDQ.*NULL\.ida`, the public check's pattern)
    /// matches too. A plain 404 page ("The page cannot be found") names neither and does not.
    public static func idaMappingEvidence(_ response: HTTPResponse, requestedFile: String = "NULL.ida") -> String? {
        let body = Array(response.body.prefix(8192))
        guard let idq = ByteSearch.firstIndex(of: "idq", in: body) else { return nil }
        let handlerPage = ByteSearch.contains("idq file", in: body)
        guard handlerPage || ByteSearch.contains(requestedFile, in: body) else { return nil }
        // Evidence: the sentence around "IDQ", bounded.
        let start = max(0, idq - 20)
        return Evidence.ascii(body[start...].prefix(120), maxLength: 120)
    }

    /// What a GET of `/scripts/root.exe` (no query string: nothing is run) says about the file.
    public enum RootExePresence: Equatable, Sendable {
        /// 200, or a CGI error page showing IIS launched the executable (502 / "CGI Error").
        case present(evidence: String)
        /// 404 / 410.
        case absent(status: Int)
        /// Anything else (401/403/500/3xx...): cannot tell.
        case inconclusive(status: Int)
    }

    /// Classifies the response to a root.exe request.
    public static func classifyRootExe(_ response: HTTPResponse) -> RootExePresence {
        let status = response.head.statusCode
        let body = Array(response.body.prefix(4096))
        switch status {
        case 200...299:
            return .present(evidence: "HTTP \(status) \(response.head.reason)")
        case 404, 410:
            return .absent(status: status)
        case 502:
            return .present(evidence: "HTTP 502: the CGI executable was launched")
        default:
            if ByteSearch.contains("cgi error", in: body) || ByteSearch.contains("misbehaved by not returning", in: body) {
                return .present(evidence: "HTTP \(status): CGI error page")
            }
            return .inconclusive(status: status)
        }
    }
}
