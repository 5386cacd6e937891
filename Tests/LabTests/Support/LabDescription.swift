/// What Deploy/lab/up wrote to `lab.json`: namespaces, addresses, what each host runs and what
/// a scan of it should find. See Deploy/lab/README.md.
struct LabDescription: Decodable, Sendable {
    struct Coordinator: Decodable, Sendable {
        /// The namespace to run `cordon serve` in.
        var namespace: String
        var address: String
    }

    struct Management: Decodable, Sendable {
        var subnet: String
        var bridgeNamespace: String
        var coordinator: Coordinator
    }

    struct Jump: Decodable, Sendable {
        /// The namespace to run the agent (and nmap) in.
        var namespace: String
        /// On the segment.
        var address: String
        /// On the management network, where the coordinator is reachable.
        var managementAddress: String
    }

    struct Simulated: Decodable, Sendable {
        /// The `cordon demo-host` profile (a ``WormHostProfile`` preset name).
        var profile: String
        /// demo-host's ready file (one line of JSON: endpoints, expected findings).
        var readyFile: String
    }

    struct Host: Decodable, Sendable {
        /// smb1-null, smb1-auth, smb2-only, iis, rpc, backdoor, conficker, wannacry, blaster,
        /// filtered, closed, dead.
        var role: String
        /// Nil for the dead address (nothing is there).
        var namespace: String?
        var address: String
        /// What plays it: "smbd", "nmbd", "lighttpd", "samba-dcerpcd", "socat", "nftables", "cordon demo-host".
        var runs: [String]
        /// TCP ports that accept a connection from the jump host (Conficker's as of `up`'s week).
        var tcpOpen: [UInt16]
        var udpOpen: [UInt16]
        /// TCP ports that time out (nftables drops the SYN).
        var tcpFiltered: [UInt16]
        /// Detection IDs (DetectionCatalogue) a scan from the jump host should report.
        var expectedFindings: [String]
        var simulated: Simulated?
        var notes: String
    }

    struct Segment: Decodable, Sendable {
        var index: Int
        var name: String
        /// "198.18.N.0/24".
        var subnet: String
        var bridgeNamespace: String
        var jump: Jump
        var hosts: [Host]

        /// The host with that role (nil when the lab was built without it).
        func host(_ role: String) -> Host? { hosts.first { $0.role == role } }
    }

    struct Process: Decodable, Sendable {
        var namespace: String
        var name: String
        var pid: Int32
        var pidFile: String
        var log: String
    }

    var version: Int
    var prefix: String
    var stateDir: String
    var createdAt: Int
    var expiresAt: Int
    var ttlSeconds: Int
    /// The `cordon` binary the simulated hosts run (nil when there are none).
    var cordon: String?
    var management: Management
    var segments: [Segment]
    var processes: [Process]
}
