@testable import CordonAgent
@testable import CordonCoordinator
import CordonShared
import CordonTransport
import Crypto
import Foundation
import GRDB
import NIOHTTP1
import Testing

@Suite struct ProtocolLiveTests {
    static func reportJSON(id: String = UUID().uuidString.lowercased(), padding: Int = 0) throws -> Data {
        var facts = AgentFacts(hostname: "h", osRelease: "o", kernel: "k", agentVersion: "v", uptimeSeconds: 1, addresses: [])
        if padding > 0 { facts.osRelease = String(repeating: "x", count: padding) }
        return try CordonJSON.encode(AgentReport(id: id, createdAt: Date(), facts: facts))
    }

    @Test func badBodiesGet400Or413AndNothingIsStored() async throws {
        let fleet = try await LiveFleet.start { $0.maxBodySize = .init(bytes: 64 * 1024) }
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)

        let tooLarge = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(padding: 100_000))
        #expect(tooLarge.status == 413)
        #expect(tooLarge.error?.error == APIErrorCode.tooLarge)

        let malformed = try await client.send(.POST, APIPath.reports, body: Data("{\"id\": ".utf8))
        #expect(malformed.status == 400)
        #expect(malformed.error?.message.contains("malformed JSON") == true)

        let missing = try await client.send(.POST, APIPath.reports, body: Data(#"{"id":"abcdefgh-1234"}"#.utf8))
        #expect(missing.status == 400)
        #expect(missing.error?.message.contains("missing field") == true)

        let good = String(decoding: try Self.reportJSON(), as: UTF8.self)
        let wrongType = try await client.send(.POST, APIPath.reports, body: Data(good.replacingOccurrences(of: #""spoolDropped":0"#, with: #""spoolDropped":[]"#).utf8))
        #expect(wrongType.status == 400)
        #expect(wrongType.error?.message.contains("'spoolDropped'") == true)

        let badID = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(id: "../../../x"))
        #expect(badID.status == 400)

        let notJSONAtAll = try await client.send(.POST, APIPath.heartbeat, body: Data([0xFF, 0x00, 0x12]))
        #expect(notJSONAtAll.status == 400)

        let enroll = try fleet.raw(certificatePEM: nil, keyPEM: nil)
        let badCSR = try await enroll.send(.POST, APIPath.enroll, body: try CordonJSON.encode(EnrollRequest(token: "ct_x", csrPEM: "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----", hostname: "h", agentVersion: "v")))
        #expect(badCSR.status == 400)

        #expect(try fleet.database.reportCount() == 0, "nothing was written for a rejected request")
        for reply in [tooLarge, malformed, missing, wrongType, badID, notJSONAtAll, badCSR] { #expect(reply.status < 500) }
        await enroll.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func theStatusAndFindingsLimitsAreCheckedAndChosenByQuery() async throws {
        let fleet = try await LiveFleet.start()
        let op = try fleet.rawAsOperator()
        for (query, fragment) in [("agents=everyone", "'agents' must be all or attention"), ("agents=attention&limit=-1", "'limit' must be 0-10000"),
                                  ("agents=attention&limit=10001", "'limit' must be 0-10000"), ("agents=attention&limit=ten", "'limit' must be an integer"),
                                  ("agents=all&limit=-491", "'limit' must be 0-10000"), ("limit=-1", "'limit' must be 0-10000")] {
            let reply = try await op.send(.GET, APIPath.status + "?" + query)
            #expect(reply.status == 400, "\(query)")
            #expect(reply.error?.message.contains(fragment) == true, "\(query): \(String(describing: reply.error))")
        }
        for query in ["limit=0", "limit=-3", "limit=many"] {
            let reply = try await op.send(.GET, APIPath.findings + "?" + query)
            #expect(reply.status == 400, "\(query)")
            #expect(reply.error?.message.contains("'limit'") == true, "\(query)")
        }
        #expect(try await op.send(.GET, APIPath.findings + "?limit=1").status == 200)
        let attention = try await op.send(.GET, APIPath.status + "?agents=attention&limit=5")
        #expect(attention.status == 200)
        #expect(try CordonJSON.decode(FleetStatus.self, from: attention.body).attentionOmitted == 0)
        let all = try await op.send(.GET, APIPath.status)
        #expect(try CordonJSON.decode(FleetStatus.self, from: all.body).attentionOmitted == nil)
        #expect(!String(decoding: all.body, as: UTF8.self).contains("attentionOmitted"), "the default answer keeps its old shape")
        await op.shutdown()
        await fleet.finish()
    }

    /// gzip bodies: a compressed report is stored as the JSON it inflates to; a bomb gets the
    /// 413 of an oversized body, a broken stream 400, another encoding 415, and none of them
    /// stores anything. The heartbeat answer says gzip is taken.
    @Test func gzipBodiesAreInflatedWithinTheLimit() async throws {
        let fleet = try await LiveFleet.start { $0.maxBodySize = .init(bytes: 64 * 1024) }
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let gzip = [(ProtocolVersion.headerName, "1.0"), ("Content-Encoding", "gzip")]

        let heartbeat = try CordonJSON.encode(Heartbeat(sentAt: Date(), agentVersion: "v", heartbeatInterval: 30, reportInterval: 300, spoolDepth: 0, spoolDropped: 0))
        let beat = try await client.send(.POST, APIPath.heartbeat, body: try BodyEncoding.compress(heartbeat), headers: gzip)
        #expect(beat.status == 200)
        #expect(try CordonJSON.decode(HeartbeatResponse.self, from: beat.body).acceptsEncodings == ["gzip"])

        let json = try Self.reportJSON(padding: 40_000)
        let compressed = try BodyEncoding.compress(json)
        #expect(compressed.count < json.count / 10)
        let stored = try await client.send(.POST, APIPath.reports, body: compressed, headers: gzip)
        #expect(stored.status == 201, "\(String(decoding: stored.body, as: UTF8.self))")
        let body = try await fleet.database.writer.read { db in try Data.fetchOne(db, sql: "SELECT bodyJSON FROM report") }
        #expect(body == json, "the stored body is the JSON the agent made")

        // 20 MB of spaces inside a valid report: about 20 KB compressed, far over 64 KiB inflated.
        let bomb = try BodyEncoding.compress(Self.reportJSON(padding: 20_000_000))
        #expect(bomb.count < 64 * 1024)
        let bombed = try await client.send(.POST, APIPath.reports, body: bomb, headers: gzip)
        #expect(bombed.status == 413)
        #expect(bombed.error?.error == APIErrorCode.tooLarge && bombed.error?.message.contains("inflates to more than 65536 bytes") == true)
        let broken = try await client.send(.POST, APIPath.reports, body: Data(compressed.prefix(compressed.count / 2)), headers: gzip)
        #expect(broken.status == 400 && broken.error?.message.contains("not a complete gzip stream") == true, "\(String(describing: broken.error))")
        let notGzip = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: gzip)
        #expect(notGzip.status == 400)
        let brotli = try await client.send(.POST, APIPath.reports, body: compressed, headers: [(ProtocolVersion.headerName, "1.0"), ("Content-Encoding", "br")])
        #expect(brotli.status == 415 && brotli.error?.error == APIErrorCode.unsupportedEncoding)
        #expect(try fleet.database.reportCount() == 1, "only the good report was stored")

        // The agent's own uplink compresses once the heartbeat said so, and the report arrives whole.
        #expect(await agent.service.uplink.coordinatorAcceptsGzip == false)
        _ = try await agent.service.uplink.heartbeat(Heartbeat(sentAt: Date(), agentVersion: "v", heartbeatInterval: 30, reportInterval: 300, spoolDepth: 0, spoolDropped: 0))
        #expect(await agent.service.uplink.coordinatorAcceptsGzip)
        let second = try Self.reportJSON(padding: 5_000)
        #expect(try await agent.service.uplink.send(reportJSON: second).duplicate == false)
        #expect(try fleet.database.reportCount() == 2)
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func anUnknownMajorVersionIsRefusedNamingTheSpokenOnes() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let v2 = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: [(ProtocolVersion.headerName, "2.0")])
        #expect(v2.status == 400)
        #expect(v2.error?.error == APIErrorCode.unsupportedProtocol)
        #expect(v2.error?.message.contains("speaks 1.x") == true)
        let none = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: [])
        #expect(none.status == 400)
        let minor = try await client.send(.POST, APIPath.reports, body: try Self.reportJSON(), headers: [(ProtocolVersion.headerName, "1.9")])
        #expect(minor.status == 201, "any minor of a spoken major is accepted")

        let enroll = try fleet.raw(certificatePEM: nil, keyPEM: nil)
        var request = EnrollRequest(token: "ct_x", csrPEM: "x", hostname: "h", agentVersion: "v")
        request.protocolVersion = ProtocolVersion(major: 3, minor: 1)
        let enrollV3 = try await enroll.send(.POST, APIPath.enroll, body: try CordonJSON.encode(request))
        #expect(enrollV3.status == 400)
        #expect(enrollV3.error?.message.contains("3.1 is not spoken") == true)
        await enroll.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    /// One agent must not be able to break the fleet view: a report from the year 10000 (or
    /// one that rounds there), a report from more than a day ahead, a heartbeat from before
    /// 2000, and spool-drop counts that would overflow the running total are refused with a
    /// 400 naming the field; the fleet view and the agents table stay readable.
    @Test func hostileDatesAndCountsAreRefusedAndTheFleetViewSurvives() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let good = String(decoding: try Self.reportJSON(), as: UTF8.self)
        let createdAt = try #require(good.firstMatch(of: /"createdAt":"([^"]+)"/).map { String($0.1) })
        func with(_ from: String, _ to: String) -> Data { Data(good.replacingOccurrences(of: from, with: to).utf8) }

        var replies: [(String, RawClient.Reply)] = []
        for (name, date) in [("year 10000", "10000-01-01T00:00:00.000Z"), ("rounds to 10000", "9999-12-31T23:59:59.9996Z"),
                             ("after 2199", "2300-01-01T00:00:00.000Z"), ("before 2000", "1999-12-31T23:59:59.000Z")] {
            replies.append((name, try await client.send(.POST, APIPath.reports, body: with(createdAt, date))))
        }
        let tomorrowPlus = CordonTime.format(Date().addingTimeInterval(3 * 86_400))
        let ahead = try await client.send(.POST, APIPath.reports, body: with(createdAt, tomorrowPlus))
        #expect(ahead.status == 400)
        #expect(ahead.error?.message.contains("more than a day ahead") == true, "\(ahead.error?.message ?? "")")
        for (name, reply) in replies {
            #expect(reply.status == 400, "\(name)")
            #expect(reply.error?.message.contains("'createdAt'") == true, "\(name): \(reply.error?.message ?? "")")
        }
        let huge = try await client.send(.POST, APIPath.reports, body: with(#""spoolDropped":0"#, #""spoolDropped":9223372036854775807"#))
        #expect(huge.status == 400)
        #expect(huge.error?.message.contains("'spoolDropped'") == true, "\(huge.error?.message ?? "")")
        let heartbeat = try CordonJSON.encode(Heartbeat(sentAt: Date(timeIntervalSince1970: 5), agentVersion: "v", heartbeatInterval: 30,
                                                        reportInterval: 300, spoolDepth: 0, spoolDropped: 0))
        let oldHeartbeat = try await client.send(.POST, APIPath.heartbeat, body: heartbeat)
        #expect(oldHeartbeat.status == 400)
        #expect(oldHeartbeat.error?.message.contains("'sentAt'") == true, "\(oldHeartbeat.error?.message ?? "")")
        #expect(try fleet.database.reportCount() == 0, "nothing was written for a rejected request")

        // The largest accepted drop count, twice: the running totals saturate, the views read.
        let max32 = Int(Int32.max)
        for _ in 0..<2 {
            let fresh = Data(String(decoding: try Self.reportJSON(), as: UTF8.self)
                .replacingOccurrences(of: #""spoolDropped":0"#, with: #""spoolDropped":\#(max32)"#).utf8)
            #expect(try await client.send(.POST, APIPath.reports, body: fresh).status == 201)
        }
        let status = try fleet.database.fleetStatus(now: Date())
        #expect(status.segments.first?.spoolDropped == 2 * max32)
        #expect(try fleet.database.agentDetail(id: agent.id, now: Date()) != nil)
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    /// Inventory holds real dates from 1970 (an account locked with `usermod --expiredate 1`
    /// expires on 1970-01-02): the network window takes them, and refuses what the database
    /// could not read back.
    @Test func theNetworkDateWindowTakesInventoryDatesFrom1970() throws {
        struct Stamp: Codable { var at: Date }
        let window = CordonJSON.networkDateWindow
        #expect(try CordonJSON.decode(Stamp.self, from: Data(#"{"at":"1970-01-02T00:00:00.000Z"}"#.utf8), dateWindow: window).at
                == Date(timeIntervalSince1970: 86_400))
        // Fields out of range are not rolled over into another time (Foundation's parser took
        // 12:99 as 13:39; found by scripts/api-fuzz).
        #expect(CordonTime.parse("2024-02-29T23:59:59.999Z") != nil)
        #expect(CordonTime.parse("2024-01-01T12:00:00+02:00") != nil)
        #expect(CordonTime.parse("2024-01-01T12:00:00Z") == Date(timeIntervalSince1970: 1_704_110_400))
        for bad in ["10000-01-01T00:00:00.000Z", "2200-01-01T00:00:00.000Z", "1969-12-31T23:59:59.000Z",
                    "2024-01-01T12:99:00Z", "2023-02-29T00:00:00Z", "2024-13-01T00:00:00Z", "2024-01-01T24:00:00Z",
                    "2024-04-31T00:00:00Z", "2024-01-01T00:00:61Z", "2024-1-01T00:00:00Z"] {
            #expect(throws: DecodingError.self, "\(bad)") {
                try CordonJSON.decode(Stamp.self, from: Data(#"{"at":"\#(bad)"}"#.utf8), dateWindow: window)
            }
        }
    }

    /// An agent whose clock is two hours ahead learns it from the heartbeat's answer, and
    /// `cordon-agent status` says so; within five minutes it says the clocks agree.
    @Test func aHostClockHoursOffIsMeasuredFromTheHeartbeat() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let sent = Date()
        let answer = try await agent.service.uplink.heartbeat(Heartbeat(sentAt: sent, agentVersion: "v", heartbeatInterval: 30, reportInterval: 300,
                                                                         spoolDepth: 0, spoolDropped: 0))
        let answered = Date()
        let inSync = AgentService.clockSkew(sentAt: sent, serverTime: answer.serverTime, answeredAt: answered)
        #expect(abs(inSync) < 2, "\(inSync)")
        let ahead = AgentService.clockSkew(sentAt: sent.addingTimeInterval(7200), serverTime: answer.serverTime, answeredAt: answered.addingTimeInterval(7200))
        #expect(abs(ahead - 7200) < 2, "\(ahead)")
        let shown = AgentStatusCommand.clock(ahead)
        #expect(shown.hasPrefix("OFF: ") && shown.contains("ahead of the coordinator's") && (shown.contains("119m") || shown.contains("120m") || shown.contains("2h")), "\(shown)")
        #expect(AgentStatusCommand.clock(-ahead).contains("behind the coordinator's"))
        #expect(AgentStatusCommand.clock(inSync).hasPrefix("agrees with the coordinator's"))
        #expect(AgentStatusCommand.clock(nil).hasPrefix("not compared yet"))
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aSumOfClientCountsSaturates() {
        #expect(Saturating.add(Int.max, 1) == Int.max)
        #expect(Saturating.add(Int.max, Int.max) == Int.max)
        #expect(Saturating.add(Int.min, -1) == Int.min)
        #expect(Saturating.add(2, 3) == 5)
    }

    /// A report beyond ``ReportLimits`` is refused whole, naming the field; one just inside
    /// them is recorded in bounded transactions, so another agent's heartbeats go on meanwhile
    /// (one 185,000-host report used to hold the writer, and every heartbeat, for 71 s).
    @Test func aHugeReportIsCappedAndDoesNotHoldOtherAgentsWrites() async throws {
        let fleet = try await LiveFleet.start { $0.maxBodySize = .init(bytes: 64 << 20) }
        let big = try await fleet.enrollAgent(name: "big")
        let small = try await fleet.enrollAgent(name: "small")
        let bigClient = try fleet.rawAsAgent(big)
        let smallClient = try fleet.rawAsAgent(small)
        let now = Date()
        func scan(_ hosts: [ScannedHost]) -> ScanReport {
            ScanReport(profile: "worms", scope: ["198.18.0.0/15"], exclude: [], startedAt: now.addingTimeInterval(-60), finishedAt: now,
                       complete: true, addressesScanned: hosts.count, hostsDown: 0, hosts: hosts)
        }
        func address(_ i: Int) -> String { "198.18.\(i / 250).\(i % 250 + 1)" }
        func report(_ hosts: [ScannedHost]) throws -> Data {
            try CordonJSON.encode(AgentReport(createdAt: now, facts: AgentFacts(hostname: "big", osRelease: "o", kernel: "k", agentVersion: "v",
                                                                                 uptimeSeconds: 1, addresses: []), scan: scan(hosts)))
        }

        let tooMany = try await bigClient.send(.POST, APIPath.reports,
                                               body: try report((0...ReportLimits.maxHosts).map { ScannedHost(address: "198.18.0.\($0 % 250 + 1)", reason: "r") }))
        #expect(tooMany.status == 413)
        #expect(tooMany.error?.error == APIErrorCode.reportTooLarge)
        #expect(tooMany.error?.message.contains("'scan.hosts'") == true, "\(tooMany.error?.message ?? "")")
        let service = ServiceObservation(port: 445, proto: .tcp, state: .open, reason: .connected)
        let tarpit = try await bigClient.send(.POST, APIPath.reports, body: try report([
            ScannedHost(address: "198.18.0.1", reason: "r"),
            ScannedHost(address: "198.18.0.2", reason: "r", services: Array(repeating: service, count: ReportLimits.maxServicesPerHost + 1)),
        ]))
        #expect(tarpit.status == 413)
        #expect(tarpit.error?.message.contains("'scan.hosts[1].services'") == true, "\(tarpit.error?.message ?? "")")
        #expect(try fleet.database.reportCount() == 0, "nothing was written for a refused report")
        #expect(try fleet.database.hosts().isEmpty)

        // Enough hosts that recording them takes many 200 ms transactions (since the ingest went
        // to cached statements, 5,000 took under half a second in a debug build).
        let count = 20_000
        let smbv1 = FindingObservation(detectionID: DetectionCatalogue.wannacrySMBv1, port: 445, proto: .tcp, evidence: "NT LM 0.12 accepted")
        let body = try report((0..<count).map { i in
            ScannedHost(address: address(i), reason: "syn-ack tcp/445", services: [service], findings: i % 10 == 0 ? [smbv1] : [])
        })
        let heartbeat = try CordonJSON.encode(Heartbeat(sentAt: now, agentVersion: "v", heartbeatInterval: 30, reportInterval: 300,
                                                        spoolDepth: 0, spoolDropped: 0))
        let clock = ContinuousClock()
        let beats = Task {
            var waits: [Duration] = []
            while !Task.isCancelled {
                let start = clock.now
                let reply: RawClient.Reply
                do { reply = try await smallClient.send(.POST, APIPath.heartbeat, body: heartbeat) } catch {
                    if Task.isCancelled { break }  // the last one, cut short when the report was in
                    throw error
                }
                #expect(reply.status < 300)
                waits.append(clock.now - start)
                try? await Task.sleep(for: .milliseconds(50))
            }
            return waits
        }
        let start = clock.now
        let stored = try await bigClient.send(.POST, APIPath.reports, body: body)
        let ingest = clock.now - start
        beats.cancel()
        let waits = try await beats.value.sorted()
        #expect(stored.status == 201)
        #expect(try fleet.database.hosts().count == count)
        #expect(try fleet.database.fleetStatus(now: Date()).segments.first?.hostsUp == count)
        let longest = try #require(waits.last)
        Swift.print("large report: \(count) hosts (\(body.count / 1024) KiB) stored in \(ingest); \(waits.count) heartbeats meanwhile, "
              + "median \(waits[waits.count / 2]), longest \(longest)")
        #expect(waits.count >= 5, "heartbeats went on while the report was recorded")
        // Each of the report's transactions lasts at most 200 ms; a heartbeat waits for one or two
        // of them (more when the machine is busy), never for the whole report.
        #expect(longest < .seconds(2) && longest * 4 < ingest, "no heartbeat waited for the whole report")
        await bigClient.shutdown()
        await smallClient.shutdown()
        await big.service.uplink.shutdown()
        await small.service.uplink.shutdown()
        await fleet.finish()
    }

    /// A query parameter that does not parse is a 400 naming it, not taken as absent
    /// (`?since=yesterday` returned the whole audit log); asking about an unknown task changes
    /// nothing in the database.
    @Test func malformedQueryParametersAreRefusedAndA404WritesNothing() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let op = try fleet.rawAsOperator()
        let client = try fleet.rawAsAgent(agent)
        for (path, name) in [("/v1/audit?limit=abc", "limit"), ("/v1/audit?since=yesterday", "since"), ("/v1/changes?limit=abc", "limit"),
                             ("/v1/changes?since=yesterday", "since"), ("/v1/tasks?limit=1.5", "limit")] {
            let reply = try await op.send(.GET, path)
            #expect(reply.status == 400, "\(path)")
            #expect(reply.error?.message.contains("'\(name)'") == true, "\(path): \(reply.error?.message ?? "")")
        }
        for wait in ["soon", "nan", "inf"] {
            let reply = try await client.send(.GET, APIPath.nextTask + "?wait=\(wait)")
            #expect(reply.status == 400, "wait=\(wait)")
            #expect(reply.error?.message.contains("'wait'") == true)
        }
        #expect(try await op.send(.GET, "/v1/audit?limit=5&since=2026-01-01T00:00:00Z").status == 200)

        // An overdue task, then a question about one that does not exist: 404, and the overdue
        // run is not expired by it (that waits for a question that gets an answer).
        let push = TaskPushRequest(target: .agent(agent.id), file: TaskFile(tasks: [.rescan]), dryRun: true, expiresIn: 10)
        let key = Curve25519.Signing.PrivateKey()
        _ = try fleet.database.pushTask(push, actor: "test", now: Date().addingTimeInterval(-60)) { try SignedTaskList.sign($0, with: key) }
        let before = try fleet.database.tasks(agentID: agent.id, segment: nil, limit: 10)
        let missing = try await op.send(.GET, APIPath.tasks + "/tk-0000000000000000")
        #expect(missing.status == 404)
        #expect(try fleet.database.tasks(agentID: agent.id, segment: nil, limit: 10) == before, "a 404 wrote nothing")
        await op.shutdown()
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }

    @Test func aReportSentTwiceIsStoredOnce() async throws {
        let fleet = try await LiveFleet.start()
        let agent = try await fleet.enrollAgent()
        let client = try fleet.rawAsAgent(agent)
        let body = try Self.reportJSON()
        #expect(try await client.send(.POST, APIPath.reports, body: body).status == 201)
        let again = try await client.send(.POST, APIPath.reports, body: body)
        #expect(again.status == 200)
        #expect(try CordonJSON.decode(ReportAck.self, from: again.body).duplicate)
        #expect(try fleet.database.reportCount(agentID: agent.id) == 1)
        await client.shutdown()
        await agent.service.uplink.shutdown()
        await fleet.finish()
    }
}
