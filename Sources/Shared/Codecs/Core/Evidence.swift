/// Turns bytes and strings taken from a hostile reply into short, printable evidence.
///
/// Everything a scanned host says ends up in reports and terminals, so it is cut to a maximum
/// length and stripped of control, format (bidi overrides, zero-width) and private-use characters,
/// which are replaced by `?`. CR, LF and TAB become a space.
public enum Evidence {
    /// The default maximum length, in characters, of one evidence string.
    public static let defaultMaxLength = 256

    /// Sanitizes bytes, decoded as UTF-8 (invalid sequences become `?`).
    public static func text(_ bytes: some Collection<UInt8>, maxLength: Int = defaultMaxLength) -> String {
        let limited = bytes.prefix(max(0, maxLength) * 4)
        return sanitize(String(decoding: Array(limited), as: UTF8.self), maxLength: maxLength)
    }

    /// Sanitizes bytes as Latin-1/ASCII: every byte outside printable ASCII becomes `?` (or a space
    /// for CR, LF, TAB).
    public static func ascii(_ bytes: some Collection<UInt8>, maxLength: Int = defaultMaxLength) -> String {
        var out = ""
        for byte in bytes.prefix(max(0, maxLength)) {
            switch byte {
            case 0x20...0x7E: out.unicodeScalars.append(Unicode.Scalar(byte))
            case 0x09, 0x0A, 0x0D: out.append(" ")
            default: out.append("?")
            }
        }
        return out
    }

    /// Sanitizes UTF-16 code units (unpaired surrogates become `?`).
    public static func utf16(_ units: some Collection<UInt16>, maxLength: Int = defaultMaxLength) -> String {
        let limited = Array(units.prefix(max(0, maxLength) * 2))
        return sanitize(String(decoding: limited, as: UTF16.self), maxLength: maxLength)
    }

    /// Sanitizes a string: printable characters only, at most `maxLength` characters.
    public static func sanitize(_ string: String, maxLength: Int = defaultMaxLength) -> String {
        var out = String.UnicodeScalarView()
        var count = 0
        for scalar in string.unicodeScalars {
            if count >= maxLength { break }
            out.append(clean(scalar))
            count += 1
        }
        return String(out)
    }

    /// Lowercase hex of bytes (bounded), for binary evidence.
    public static func hex(_ bytes: some Collection<UInt8>, maxBytes: Int = 64) -> String {
        let digits = Array("0123456789abcdef".unicodeScalars)
        var out = String.UnicodeScalarView()
        for byte in bytes.prefix(max(0, maxBytes)) {
            out.append(digits[Int(byte >> 4)])
            out.append(digits[Int(byte & 0x0F)])
        }
        return String(out)
    }

    private static func clean(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
        switch scalar.value {
        case 0x20...0x7E: return scalar
        case 0x09, 0x0A, 0x0D: return " "
        case 0xFFFD: return "?"
        default: break
        }
        switch scalar.properties.generalCategory {
        case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator, .paragraphSeparator:
            return "?"
        default:
            return scalar
        }
    }
}
