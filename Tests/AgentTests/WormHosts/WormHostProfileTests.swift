import CordonCodecs
import NIOCore
#if canImport(Glibc)
import Glibc
#endif
import Testing
@testable import CordonWormHosts

#if canImport(CordonShared)
import CordonShared
#endif

@Suite struct WormHostProfileTests {
    @Test func presetsCoverEveryScanDetection() {
        let covered = Set(WormHostProfile.presets.flatMap(\.expectedFindings))
        #expect(covered == Set(WormFinding.all))
    }

    #if canImport(CordonShared)
    @Test func findingIDsAreTheCatalogueScanDetections() {
        // Every detection a probe makes; the passive sensor's is not a simulated host's to show.
        let catalogue = DetectionCatalogue.all.filter { $0.source == .scan && $0.id != DetectionCatalogue.wormSpreading }.map(\.id)
        #expect(WormFinding.all == catalogue)
    }
    #endif

    @Test func presetsSayWhatTheBriefAsks() {
        #expect(WormHostProfile.codeRed.expectedFindings == [WormFinding.codeRedIIS, WormFinding.codeRedIdaMapping, WormFinding.codeRedRootExe])
        #expect(WormHostProfile.blaster.expectedFindings == [WormFinding.blasterRPC, WormFinding.blasterShell, WormFinding.blasterTFTP])
        #expect(WormHostProfile.zotob.expectedFindings == [WormFinding.zotobNullSession, WormFinding.zotobShell, WormFinding.zotobFTP,
                                                           WormFinding.confickerSMB, WormFinding.wannacrySMBv1])
        #expect(WormHostProfile.conficker.expectedFindings == [WormFinding.confickerSMB, WormFinding.confickerP2P, WormFinding.wannacrySMBv1])
        #expect(WormHostProfile.wannaCry.expectedFindings.contains(WormFinding.wannacryMS17010))
        #expect(WormHostProfile.wannaCry.expectedFindings.contains(WormFinding.wannacryDoublePulsar))
        #expect(WormHostProfile.patched.expectedFindings == [WormFinding.confickerSMB])
        #expect(WormHostProfile.patched.smb?.smb1Enabled == false && WormHostProfile.patched.smb?.signingRequired == true)
        #expect(WormHostProfile.patched.tcpPorts == [445] && WormHostProfile.patched.udpPorts.isEmpty)
        #expect(WormHostProfile.iis5.expectedFindings == [WormFinding.codeRedIIS])
        // SMB1 removed, anonymous IPC$ over SMB2/3: its own exposure, not Zotob's.
        #expect(WormHostProfile.anonymousSMB2.expectedFindings == [WormFinding.confickerSMB, WormFinding.smbNullSession])
    }

    @Test func presetNamesAreUniqueAndFound() {
        let names = WormHostProfile.presets.map(\.name)
        #expect(Set(names).count == names.count)
        for name in names { #expect(WormHostProfile.preset(named: name.uppercased())?.name == name) }
        #expect(WormHostProfile.preset(named: "nonesuch") == nil)
    }

    @Test func parsesHostSpecs() throws {
        let spec = try WormHostSpec(parsing: "127.0.1.5=wannacry")
        #expect(spec.address == IPv4Octets(127, 0, 1, 5))
        #expect(spec.profile == .wannaCry)
        let named = try WormHostSpec(parsing: "198.18.1.30=conficker:xp-conf1")
        #expect(named.profile.computerName == "XP-CONF1")
        #expect(named.profile.smb?.computerName == "XP-CONF1")
        #expect(try WormHostSpec(parsing: "127.0.0.9=blaster:BLASTED").profile.computerName == "BLASTED")
    }

    @Test(arguments: ["127.0.1.5", "127.0.1.5=", "=xp", "127.0.1=xp", "127.0.1.5=nonesuch", "192.0.2.5=xp", "203.0.113.1=xp",
                      "198.20.0.1=xp", "127.0.1.5=xp:", "127.0.1.5=xp:way-too-long-a-name", "127.0.1.5=xp:bad name"])
    func rejectsBadSpecs(_ text: String) {
        #expect(throws: WormHostError.invalidSpec) { try WormHostSpec(parsing: text) }
    }

    @Test func bindErrorsSayWhatToDo() {
        let endpoint = WormHostEndpoint(address: IPv4Octets(127, 0, 0, 9), transport: .tcp, port: 445, service: .smb)
        let denied = WormHostFleet.bindError(IOError(errnoCode: EACCES, reason: "bind"), endpoint: endpoint)
        #expect(denied == .permissionDenied)
        #expect(denied.reason.contains("root") && denied.reason.contains("CAP_NET_BIND_SERVICE"))
        #expect(WormHostFleet.bindError(IOError(errnoCode: EADDRINUSE, reason: "bind"), endpoint: endpoint) == .addressInUse)
        #expect(WormHostFleet.bindError(IOError(errnoCode: EADDRNOTAVAIL, reason: "bind"), endpoint: endpoint) == .addressNotAvailable)
    }
}

@Suite struct WormHostLineupTests {
    @Test func lineupGivesEachPresetItsOwnAddressAndName() {
        let lineup = WormHostSpec.lineup(network: IPv4Octets(127, 0, 3, 0))
        #expect(lineup.count == WormHostProfile.presets.count)
        #expect(lineup.first?.address == IPv4Octets(127, 0, 3, 10))
        #expect(Set(lineup.map(\.address)).count == lineup.count)
        #expect(Set(lineup.map(\.profile.computerName)).count == lineup.count)
        #expect(lineup.allSatisfy { $0.profile.computerName.count <= 15 })
        #expect(lineup.map(\.profile.expectedFindings) == WormHostProfile.presets.map(\.expectedFindings))
        #expect(WormHostSpec.lineup(network: IPv4Octets(127, 0, 3, 0), firstHost: 250).count == 5)
    }
}
