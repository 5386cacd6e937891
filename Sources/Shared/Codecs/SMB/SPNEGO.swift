/// The few SPNEGO (RFC 4178) DER wrappers needed to carry NTLMSSP tokens, and the unwrap that
/// finds an NTLMSSP message inside any blob (as nmap does: search for the signature).
public enum SPNEGO {
    /// OID 1.3.6.1.5.5.2 (SPNEGO), DER-encoded without tag/length.
    public static let spnegoOID: [UInt8] = [0x2B, 0x06, 0x01, 0x05, 0x05, 0x02]
    /// OID 1.3.6.1.4.1.311.2.2.10 (NTLMSSP), DER-encoded without tag/length.
    public static let ntlmsspOID: [UInt8] = [0x2B, 0x06, 0x01, 0x04, 0x01, 0x82, 0x37, 0x02, 0x02, 0x0A]

    /// True when the blob contains the SPNEGO OID within its first 16 bytes (a NegTokenInit).
    public static func containsSPNEGOOID(_ blob: [UInt8]) -> Bool {
        let head = Array(blob.prefix(16))
        guard head.count >= spnegoOID.count else { return false }
        for start in 0...(head.count - spnegoOID.count) where Array(head[start..<(start + spnegoOID.count)]) == spnegoOID {
            return true
        }
        return false
    }

    /// A NegTokenInit offering NTLMSSP and carrying the first NTLMSSP token (client side).
    public static func negTokenInit(mechToken: [UInt8]) -> [UInt8] {
        let mechTypes = tlv(0xA0, tlv(0x30, tlv(0x06, ntlmsspOID)))
        let token = tlv(0xA2, tlv(0x04, mechToken))
        let negTokenInit = tlv(0xA0, tlv(0x30, mechTypes + token))
        return tlv(0x60, tlv(0x06, spnegoOID) + negTokenInit)
    }

    /// A NegTokenInit offering NTLMSSP without a token (server side, in the negotiate response).
    public static func serverNegTokenInit() -> [UInt8] {
        let mechTypes = tlv(0xA0, tlv(0x30, tlv(0x06, ntlmsspOID)))
        return tlv(0x60, tlv(0x06, spnegoOID) + tlv(0xA0, tlv(0x30, mechTypes)))
    }

    /// A NegTokenResp carrying a response token (client AUTHENTICATE, or server CHALLENGE with
    /// `negState` accept-incomplete = 1 and the supported mech).
    public static func negTokenResp(responseToken: [UInt8], negState: UInt8? = nil, supportedMech: Bool = false) -> [UInt8] {
        var inner: [UInt8] = []
        if let negState { inner += tlv(0xA0, tlv(0x0A, [negState])) }
        if supportedMech { inner += tlv(0xA1, tlv(0x06, ntlmsspOID)) }
        if !responseToken.isEmpty { inner += tlv(0xA2, tlv(0x04, responseToken)) }
        return tlv(0xA1, tlv(0x30, inner))
    }

    /// The NTLMSSP message inside a blob (raw NTLMSSP or wrapped in SPNEGO/GSS), found by its
    /// signature, or nil.
    public static func findNTLMSSP(in blob: [UInt8]) -> [UInt8]? {
        let signature = NTLMSSP.signature
        guard blob.count >= signature.count else { return nil }
        var i = 0
        let last = blob.count - signature.count
        while i <= last {
            if blob[i] == 0x4E, Array(blob[i..<(i + signature.count)]) == signature {
                return Array(blob[i...])
            }
            i += 1
        }
        return nil
    }

    /// DER tag-length-value. Lengths up to 0xFFFF (long form 0x81/0x82).
    static func tlv(_ tag: UInt8, _ value: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [tag]
        let n = min(value.count, 0xFFFF)
        if n < 0x80 {
            out.append(UInt8(n))
        } else if n <= 0xFF {
            out += [0x81, UInt8(n)]
        } else {
            out += [0x82, UInt8(n >> 8), UInt8(n & 0xFF)]
        }
        out += value.prefix(n)
        return out
    }
}
