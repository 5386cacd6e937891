import CordonAgent
import CordonShared
import Foundation

/// A crafted jump-host file tree for `cordon demo`, so that the agents' inventories show what
/// a worm leaves behind on a Linux jump host: an old admin password, a UID 0 backdoor
/// account, a cron job dropped in /tmp after the baseline, and a burst of failed SSH logons
/// from an infected Windows host. The firewall ruleset is one that blocks nothing.
struct DemoJumpHost: Sendable {
    let root: String
    let hostName: String
    let infectedSource: String?

    /// The jump host's remediation policy: every action, with one protected account.
    var policyFile: String { root + "/etc/cordon/policy.yaml" }

    func create(now: Date) throws {
        for dir in ["etc/cordon", "etc/cron.d", "var/spool/cron/crontabs", "var/spool/cron/atjobs", "var/log", "var/lib/dpkg", "tmp", "proc/net", "home/ops/.ssh"] {
            try SecureFile.makeDirectory(root + "/" + dir, mode: 0o755)
        }
        let day = Int(now.timeIntervalSince1970 / 86400)
        try write("etc/hostname", hostName + "\n")
        try write("etc/os-release", "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n")
        try write("etc/passwd", """
            root:x:0:0:root:/root:/bin/bash
            daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
            ops:x:1000:1000:Ops:/home/ops:/bin/bash
            backup:x:1001:1001:Backups:/home/backup:/bin/bash
            toor:x:0:0::/root:/bin/sh

            """)
        try write("etc/shadow", """
            root:$y$j9T$demo$0000000000000000000000000000000000000000000:\(day - 30):0:99999:7:::
            daemon:*:\(day - 400):0:99999:7:::
            ops:$y$j9T$demo$1111111111111111111111111111111111111111111:\(day - 412):0:99999:7:::
            backup:$6$demo$2222222222222222222222222222222222222222222222:\(day - 5):0:99999:7:::
            toor:$6$demo$3333333333333333333333333333333333333333333333:\(day - 2):0:99999:7:::

            """, mode: 0o640)
        try write("etc/group", "root:x:0:\nsudo:x:27:ops\nops:x:1000:\nbackup:x:1001:\n")
        try write("etc/crontab", "SHELL=/bin/sh\n17 * * * * root cd / && run-parts --report /etc/cron.hourly\n")
        try write("etc/cron.d/backup", "30 2 * * * backup /usr/local/bin/nightly-backup\n")
        try write("var/lib/dpkg/status", "Package: openssh-server\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:9.2p1-2+deb12u3\n\n")
        try write("home/ops/.ssh/authorized_keys",
                  "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl ops@laptop\n")
        for name in ["tcp", "tcp6", "udp", "udp6"] {
            try write("proc/net/\(name)", "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n")
        }
        try write("var/log/auth.log", "")
        try write("etc/cordon/policy.yaml", """
            # The demo jump host's local policy: what it accepts from the coordinator.
            allowedActions: [\(TaskAction.allNames.joined(separator: ", "))]
            protectedAccounts: [backup]

            """)
        try write("nft.json", #"{"nftables": [{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}}]}"#)
    }

    /// What the worm does after the baseline: a cron job in /tmp, and password guessing.
    func infect(now: Date) throws {
        try write("etc/cron.d/sysupdate", "*/5 * * * * root /tmp/.sysupdate/svchost\n")
        guard let source = infectedSource else { return }
        var lines = ""
        for i in 0..<14 {
            let at = now.addingTimeInterval(Double(i * 20 - 600))
            lines += syslogTime(at) + " \(hostName) sshd[\(4000 + i)]: Failed password for \(i % 3 == 0 ? "invalid user administrator" : "root") from \(source) port \(50000 + i) ssh2\n"
        }
        try write("var/log/auth.log", lines)
    }

    func context(now: Date) -> CollectionContext {
        CollectionContext(root: root, now: now, isRoot: true, journal: .none, ruleset: .file(root + "/nft.json"))
    }

    private func syslogTime(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = .current
        let c = calendar.dateComponents([.month, .day, .hour, .minute, .second], from: date)
        let months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let day = c.day ?? 1
        return "\(months[(c.month ?? 1) - 1]) \(day < 10 ? " " : "")\(day) " + String(format: "%02d:%02d:%02d", c.hour ?? 0, c.minute ?? 0, c.second ?? 0)
    }

    private func write(_ path: String, _ text: String, mode: mode_t = 0o644) throws {
        try SecureFile.replace(root + "/" + path, contents: Data(text.utf8), mode: mode)
    }
}
