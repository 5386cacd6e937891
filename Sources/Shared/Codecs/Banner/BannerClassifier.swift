/// Classifies what a TCP service said first (Blaster's shell on 4444, Zotob's on 8888, FTP on
/// 33333 / 69...).
public enum BannerClassifier {
    /// The kind of banner.
    public enum Kind: Equatable, Sendable {
        /// A Windows `cmd.exe` shell: the "Microsoft Windows [Version x]" / copyright banner
        /// and/or a `C:\...>` prompt.
        case windowsShell(version: String?, prompt: String?)
        /// An FTP greeting (`220 ...` / `220-...`).
        case ftp(greeting: String)
        /// Something else.
        case other
        /// Nothing was said.
        case empty
    }

    /// A classification plus a bounded, printable excerpt of the banner.
    public struct Classification: Equatable, Sendable {
        public var kind: Kind
        public var evidence: String
    }

    /// Bytes looked at, at most.
    public static let maxBannerBytes = 4096

    /// Classifies a raw banner.
    public static func classify(_ bytes: [UInt8]) -> Classification {
        let banner = Array(bytes.prefix(maxBannerBytes))
        let evidence = Evidence.ascii(banner, maxLength: 160)
        guard banner.contains(where: { $0 != 0x20 && $0 != 0x0D && $0 != 0x0A && $0 != 0 }) else {
            return Classification(kind: .empty, evidence: "")
        }
        let lines = banner.split(whereSeparator: { $0 == 0x0A || $0 == 0x0D }).map { Array($0) }
        let version = windowsVersion(in: banner)
        let copyright = ByteSearch.contains("microsoft corp", in: banner) && ByteSearch.contains("copyright", in: banner)
        let prompt = lines.lazy.compactMap(driveLetterPrompt).last
        if version != nil || copyright || prompt != nil {
            if version != nil || (copyright && ByteSearch.contains("microsoft windows", in: banner)) || prompt != nil {
                return Classification(kind: .windowsShell(version: version, prompt: prompt), evidence: evidence)
            }
        }
        if let first = lines.first, first.count >= 4, first[0] == 0x32, first[1] == 0x32, first[2] == 0x30,
           first[3] == 0x20 || first[3] == 0x2D {
            return Classification(kind: .ftp(greeting: Evidence.ascii(first, maxLength: 160)), evidence: evidence)
        }
        return Classification(kind: .other, evidence: evidence)
    }

    /// "5.1.2600" from "Microsoft Windows XP [Version 5.1.2600]".
    static func windowsVersion(in banner: [UInt8]) -> String? {
        guard let windows = ByteSearch.firstIndex(of: "microsoft windows", in: banner) else { return nil }
        let rest = Array(banner[windows...].prefix(120))
        guard let marker = ByteSearch.firstIndex(of: "[version ", in: rest) else { return nil }
        let digits = rest[(marker + 9)...].prefix { (0x30...0x39).contains($0) || $0 == UInt8(ascii: ".") }
        guard !digits.isEmpty else { return nil }
        return Evidence.ascii(digits, maxLength: 32)
    }

    /// `C:\WINDOWS\system32>` at the end of a line.
    static func driveLetterPrompt(_ line: [UInt8]) -> String? {
        var trimmed = line
        while let last = trimmed.last, last == 0x20 || last == 0 { trimmed.removeLast() }
        guard trimmed.count >= 4, trimmed.count <= 260, trimmed.last == UInt8(ascii: ">") else { return nil }
        let letter = trimmed[0] & 0xDF
        guard (0x41...0x5A).contains(letter), trimmed[1] == UInt8(ascii: ":"), trimmed[2] == UInt8(ascii: "\\") else { return nil }
        guard trimmed.allSatisfy({ $0 >= 0x20 && $0 < 0x7F }) else { return nil }
        return Evidence.ascii(trimmed, maxLength: 128)
    }

    /// Server side: the banner a Windows XP `cmd.exe` bound to a port prints.
    public static let windowsXPShellBanner: [UInt8] = Array(
        "Microsoft Windows XP [Version 5.1.2600]\r\n(C) Copyright 1985-2001 Microsoft Corp.\r\n\r\nC:\\WINDOWS\\system32>".utf8)
    /// Server side: the banner of Windows 2000's `cmd.exe`.
    public static let windows2000ShellBanner: [UInt8] = Array(
        "Microsoft Windows 2000 [Version 5.00.2195]\r\n(C) Copyright 1985-2000 Microsoft Corp.\r\n\r\nC:\\WINNT\\system32>".utf8)
}
