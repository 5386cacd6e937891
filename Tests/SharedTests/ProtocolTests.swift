import CordonShared
import CordonTransport
import Foundation
import NIOCore
import NIOFoundationCompat
import Testing

@Suite struct ProtocolVersionTests {
    @Test func parsesAndPrints() throws {
        #expect(ProtocolVersion("1.0") == ProtocolVersion(major: 1, minor: 0))
        #expect(ProtocolVersion("2.13")?.description == "2.13")
        for bad in ["", "1", "1.", ".1", "a.b", "1.0.0", "-1.0", "99999.0", "1.0 "] {
            #expect(ProtocolVersion(bad) == nil, "\(bad)")
        }
    }

    @Test func speaksOnlyKnownMajors() {
        #expect(ProtocolVersion(major: 1, minor: 7).isSpoken)
        #expect(!ProtocolVersion(major: 2, minor: 0).isSpoken)
        #expect(!ProtocolVersion(major: 0, minor: 9).isSpoken)
        #expect(ProtocolVersion.spokenDescription == "1.x")
    }

    @Test func codableAsString() throws {
        let data = try CordonJSON.encode(["v": ProtocolVersion.current])
        #expect(String(decoding: data, as: UTF8.self) == #"{"v":"1.0"}"#)
        #expect(throws: DecodingError.self) { try CordonJSON.decode([String: ProtocolVersion].self, from: Data(#"{"v":"one"}"#.utf8)) }
    }
}

@Suite struct WireTypeTests {
    static let facts = AgentFacts(hostname: "jump-1", osRelease: "Debian GNU/Linux 12 (bookworm)", kernel: "6.1.0",
                                  agentVersion: "0.1.0", uptimeSeconds: 1234.5, addresses: ["198.18.0.2", "fe80::1"])

    @Test func reportRoundTripsWithMillisecondDates() throws {
        let report = AgentReport(createdAt: Date(timeIntervalSince1970: 1_700_000_000.123), spoolDropped: 3, facts: Self.facts)
        var decoded = try CordonJSON.decode(AgentReport.self, from: try CordonJSON.encode(report))
        #expect(abs(decoded.createdAt.timeIntervalSince(report.createdAt)) < 0.001, "milliseconds survive")
        decoded.createdAt = report.createdAt
        #expect(decoded == report)
        #expect(AgentReport.isValidID(report.id))
    }

    @Test func everyRequestTypeRoundTrips() throws {
        let enroll = EnrollRequest(token: "ct_x", csrPEM: "PEM", hostname: "h", agentVersion: "0.1.0")
        #expect(try CordonJSON.decode(EnrollRequest.self, from: CordonJSON.encode(enroll)) == enroll)
        let hb = Heartbeat(sentAt: Date(timeIntervalSince1970: 5), agentVersion: "0.1.0", heartbeatInterval: 30, reportInterval: 300, spoolDepth: 2, spoolDropped: 1)
        #expect(try CordonJSON.decode(Heartbeat.self, from: CordonJSON.encode(hb)) == hb)
        let status = FleetStatus(generatedAt: Date(timeIntervalSince1970: 9), segments: [SegmentStatus(name: "dmz", agents: [.online: 2, .late: 1], lastReportAt: nil, spoolDropped: 4)], agents: [])
        #expect(try CordonJSON.decode(FleetStatus.self, from: CordonJSON.encode(status)) == status)
    }

    @Test func reportIDsAreBounded() {
        #expect(!AgentReport.isValidID("short"))
        #expect(!AgentReport.isValidID(String(repeating: "a", count: 65)))
        #expect(!AgentReport.isValidID("../../etc/passwd"))
        #expect(AgentReport.isValidID("0f8fad5b-d9cb-469f-a165-70867728950e"))
    }

    @Test func decodingErrorsNameTheField() throws {
        func describe(_ json: String) -> String {
            do {
                _ = try CordonJSON.decode(AgentReport.self, from: Data(json.utf8))
                return "decoded"
            } catch { return CordonJSON.describe(error) }
        }
        #expect(describe("{") .hasPrefix("malformed JSON"))
        #expect(describe("{}") == "missing field 'id'")
        let good = String(decoding: try CordonJSON.encode(AgentReport(createdAt: Date(), facts: Self.facts)), as: UTF8.self)
        let wrongType = good.replacingOccurrences(of: #""spoolDropped":0"#, with: #""spoolDropped":"many""#)
        #expect(describe(wrongType) == "wrong type for 'spoolDropped': expected an integer")
        let missingNested = good.replacingOccurrences(of: #""kernel":"6.1.0","#, with: "")
        #expect(describe(missingNested) == "missing field 'kernel' in 'facts'")
        let badDate = good.replacingOccurrences(of: #""createdAt":""#, with: #""createdAt":"x"#)
        #expect(describe(badDate).hasPrefix("invalid value for 'createdAt'"))
    }

    /// The decoder calls a number that fits no field "not valid JSON", without a path: the 400
    /// still names it when the body is JSON.
    @Test func aNumberThatFitsNoFieldIsNamed() throws {
        func describe(_ json: String) -> String {
            do {
                _ = try CordonJSON.decode(AgentReport.self, from: Data(json.utf8))
                return "decoded"
            } catch { return CordonJSON.describe(error, body: Data(json.utf8)) }
        }
        let good = String(decoding: try CordonJSON.encode(AgentReport(createdAt: Date(), facts: Self.facts)), as: UTF8.self)
        let huge = describe(good.replacingOccurrences(of: #""spoolDropped":0"#, with: #""spoolDropped":99999999999999999999"#))
        #expect(huge == "a number does not fit its field: 'spoolDropped' = 99999999999999999999", "\(huge)")
        // A fraction may be right elsewhere (the uptime is a Double): the candidates are named.
        let fraction = describe(good.replacingOccurrences(of: #""spoolDropped":0"#, with: #""spoolDropped":1.5"#))
        #expect(fraction.hasPrefix("a number does not fit its field; one of these fractions where an integer belongs?"), "\(fraction)")
        #expect(fraction.contains("'spoolDropped' = 1.5"), "\(fraction)")
        #expect(describe("{").hasPrefix("malformed JSON"), "a body that is not JSON is still called so")
    }
}

@Suite struct ParsingTests {
    @Test func durations() {
        #expect(HumanDuration.seconds("90s") == 90)
        #expect(HumanDuration.seconds("1h30m") == 5400)
        #expect(HumanDuration.seconds("7d") == 604_800)
        #expect(HumanDuration.seconds("250ms") == 0.25)
        #expect(HumanDuration.seconds("42") == 42)
        for bad in ["", "h", "1x", "1h30", "-5s", "--", String(repeating: "9", count: 40)] {
            #expect(HumanDuration.seconds(bad) == nil, "\(bad)")
        }
        #expect(HumanDuration.format(45) == "45s")
        #expect(HumanDuration.format(7200) == "2h")
    }

    @Test func byteSizes() {
        #expect(ByteSize.parse("16MiB") == 16 << 20)
        #expect(ByteSize.parse("64 MiB") == 64 << 20)
        #expect(ByteSize.parse("1GiB") == 1 << 30)
        #expect(ByteSize.parse("1000") == 1000)
        #expect(ByteSize.parse("2MB") == 2_000_000)
        #expect(ByteSize.parse("12 parsecs") == nil)
        #expect(ByteSize.parse("") == nil)
        #expect(ByteSize.format(16 << 20) == "16MiB")
    }

    @Test func names() {
        #expect(CordonName.isValid("dmz"))
        #expect(CordonName.isValid("office-2.west_1"))
        for bad in ["", "-x", ".x", "a b", "a/b", "ü", String(repeating: "a", count: 65)] {
            #expect(!CordonName.isValid(bad), "\(bad)")
        }
    }
}

@Suite struct IPv4CIDRTests {
    @Test func parsesStrictly() {
        #expect(IPv4CIDR("198.18.1.7/24")?.description == "198.18.1.0/24")
        #expect(IPv4CIDR("198.18.1.7")?.description == "198.18.1.7/32")
        #expect(IPv4CIDR("0.0.0.0/0")?.count == 1 << 32)
        for bad in ["", "198.18.1", "198.18.1.256", "198.18.01.1", "198.18.1.1/33", "198.18.1.1/", "a.b.c.d", "::1", "198.18.1.1/24/1", "1.2.3.4 "] {
            #expect(IPv4CIDR(bad) == nil, "\(bad)")
        }
    }

    @Test func coverageAcrossSeveralNetworks() {
        let outer = ["198.18.0.0/24", "198.18.1.0/25", "198.18.1.128/25"].compactMap(IPv4CIDR.init)
        #expect(IPv4CIDR.covers(outer, IPv4CIDR("198.18.0.0/23")!), "two adjacent /25s and a /24 span the /23")
        #expect(IPv4CIDR.covers(outer, IPv4CIDR("198.18.1.200")!))
        #expect(!IPv4CIDR.covers(outer, IPv4CIDR("198.18.2.0/24")!))
        #expect(!IPv4CIDR.covers(outer, IPv4CIDR("198.18.0.0/22")!))
        #expect(!IPv4CIDR.covers([IPv4CIDR("198.18.1.0/25")!], IPv4CIDR("198.18.1.0/24")!), "a gap is not covered")
        #expect(IPv4CIDR.covers([IPv4CIDR("0.0.0.0/0")!], IPv4CIDR("255.255.255.255")!))
    }
}

@Suite struct BodyEncodingTests {
    @Test func gzipRoundTripsAndRefusesWhatIsNotAWholeStream() throws {
        let json = Data(String(repeating: #"{"k":"value"},"#, count: 5000).utf8)
        let compressed = try BodyEncoding.compress(json)
        #expect(Data(buffer: try BodyEncoding.inflate(ByteBuffer(bytes: compressed), limit: json.count)) == json)
        #expect(throws: BodyEncoding.InflateError.tooLarge) { try BodyEncoding.inflate(ByteBuffer(bytes: compressed), limit: json.count - 1) }
        for cut in [1, 8, compressed.count / 2, compressed.count - 1] {
            #expect(throws: BodyEncoding.InflateError.corrupt, "cut at \(cut)") { try BodyEncoding.inflate(ByteBuffer(bytes: compressed.prefix(cut)), limit: 1 << 20) }
        }
        #expect(throws: BodyEncoding.InflateError.corrupt) { try BodyEncoding.inflate(ByteBuffer(bytes: json), limit: 1 << 20) }
        // Two members: a reader that stopped at the first would lose the second.
        let two = try BodyEncoding.compress(Data("[1,".utf8)) + BodyEncoding.compress(Data("2]".utf8))
        #expect(throws: BodyEncoding.InflateError.corrupt) { try BodyEncoding.inflate(ByteBuffer(bytes: two), limit: 1 << 20) }
        #expect(throws: BodyEncoding.InflateError.self) { try BodyEncoding.inflate(ByteBuffer(), limit: 1 << 20) }
    }
}
