/// A NetBIOS name: up to 15 characters plus a one-byte suffix (service type), and its RFC 1001
/// "first-level" encoding (each nibble + 'A', 32 bytes, preceded by the length byte 0x20).
public struct NetBIOSName: Hashable, Sendable {
    /// The name, uppercased, without padding (at most 15 bytes).
    public let name: String
    /// The 16th byte: 0x00 workstation, 0x20 file server, 0x1D master browser, ...
    public let suffix: UInt8

    /// The name that answers any session request on TCP 139.
    public static let anySMBServer = NetBIOSName(name: "*SMBSERVER", suffix: 0x20)
    /// The wildcard name of an NBSTAT query (`*` padded with NULs).
    public static let wildcard = NetBIOSName(name: "*", suffix: 0x00)

    /// Creates a name. Non-ASCII and control characters are replaced with `_`; longer names are cut
    /// to 15 bytes.
    public init(name: String, suffix: UInt8 = 0x20) {
        var cleaned: [UInt8] = []
        for byte in name.utf8.prefix(15) {
            switch byte {
            case UInt8(ascii: "a")...UInt8(ascii: "z"): cleaned.append(byte - 32)
            case 0x21...0x7E: cleaned.append(byte)
            case 0x20: cleaned.append(byte)
            default: cleaned.append(UInt8(ascii: "_"))
            }
        }
        self.name = String(decoding: cleaned, as: UTF8.self)
        self.suffix = suffix
    }

    /// The 16 raw bytes: name padded with spaces (NULs for the wildcard `*`), then the suffix.
    public var rawBytes: [UInt8] {
        var raw = Array(name.utf8)
        let padding: UInt8 = name == "*" ? 0x00 : 0x20
        while raw.count < 15 { raw.append(padding) }
        raw.append(suffix)
        return raw
    }

    /// The encoded name as it appears on the wire: 0x20, 32 encoded bytes, 0x00 (empty scope).
    public var encoded: [UInt8] {
        var out: [UInt8] = [0x20]
        for byte in rawBytes {
            out.append((byte >> 4) + 0x41)
            out.append((byte & 0x0F) + 0x41)
        }
        out.append(0x00)
        return out
    }

    /// Decodes the 32 first-level-encoded bytes (without the length byte) into 16 raw bytes.
    public static func decodeFirstLevel(_ encoded: [UInt8]) throws(CodecError) -> [UInt8] {
        guard encoded.count == 32 else { throw .invalidValue("encoded NetBIOS name of \(encoded.count) bytes") }
        var raw: [UInt8] = []
        raw.reserveCapacity(16)
        var i = 0
        while i < 32 {
            let hi = encoded[i], lo = encoded[i + 1]
            guard (0x41...0x50).contains(hi), (0x41...0x50).contains(lo) else {
                throw .invalidValue("byte outside A-P in encoded NetBIOS name")
            }
            raw.append(((hi - 0x41) << 4) | (lo - 0x41))
            i += 2
        }
        return raw
    }

    /// Builds a name from its 16 raw bytes (trailing spaces/NULs trimmed, sanitized).
    public static func fromRaw(_ raw: [UInt8]) -> NetBIOSName {
        var nameBytes = Array(raw.prefix(15))
        while let last = nameBytes.last, last == 0x20 || last == 0x00 { nameBytes.removeLast() }
        let suffix = raw.count >= 16 ? raw[15] : 0
        return NetBIOSName(sanitizedName: Evidence.ascii(nameBytes, maxLength: 15), suffix: suffix)
    }

    private init(sanitizedName: String, suffix: UInt8) {
        self.name = sanitizedName
        self.suffix = suffix
    }
}
