/// The NetBIOS session service (RFC 1002 §4.3) as used by SMB on TCP 139 and 445: a 4-byte header
/// (type, then a 24-bit big-endian length) in front of every message.
public enum NetBIOSSession {
    /// Session message types.
    public enum MessageType {
        public static let sessionMessage: UInt8 = 0x00
        public static let sessionRequest: UInt8 = 0x81
        public static let positiveResponse: UInt8 = 0x82
        public static let negativeResponse: UInt8 = 0x83
        public static let retargetResponse: UInt8 = 0x84
        public static let keepAlive: UInt8 = 0x85
    }

    /// The largest length the 24-bit field can carry.
    public static let maxLength = 0xFF_FFFF

    /// Frames a payload as a session message (`0x00` + 24-bit BE length).
    public static func frame(_ payload: [UInt8]) throws(CodecError) -> [UInt8] {
        try frame(payload, type: MessageType.sessionMessage)
    }

    /// Frames a payload with an explicit message type.
    public static func frame(_ payload: [UInt8], type: UInt8) throws(CodecError) -> [UInt8] {
        guard payload.count <= maxLength else { throw .tooLarge("NetBIOS payload of \(payload.count) bytes") }
        var out: [UInt8] = [type, UInt8(truncatingIfNeeded: payload.count >> 16),
                            UInt8(truncatingIfNeeded: payload.count >> 8), UInt8(truncatingIfNeeded: payload.count)]
        out.append(contentsOf: payload)
        return out
    }

    /// Frames a payload known to be small (the builders of this module); payloads over 16 MiB are
    /// impossible there and would be cut, never trap.
    static func frameSmall(_ payload: [UInt8]) -> [UInt8] {
        (try? frame(payload)) ?? [0, 0, 0, 0]
    }

    /// A session request for TCP 139: called name (e.g. `*SMBSERVER`) and calling name.
    public static func sessionRequest(calledName: NetBIOSName = .anySMBServer,
                                      callingName: NetBIOSName = NetBIOSName(name: "CORDON", suffix: 0x00)) -> [UInt8] {
        let payload = calledName.encoded + callingName.encoded
        return (try? frame(payload, type: MessageType.sessionRequest)) ?? []
    }

    /// The answer to a session request.
    public enum SessionResponse: Equatable, Sendable {
        /// 0x82: the session is open; SMB can follow.
        case positive
        /// 0x83 with its error code (0x80 not listening on called name, 0x82 called name not present,
        /// 0x83 insufficient resources, 0x8F unspecified).
        case negative(errorCode: UInt8)
        /// 0x84: retarget to another address and port.
        case retarget(address: IPv4Octets, port: UInt16)
    }

    /// Parses a decoded frame as the answer to a session request.
    public static func parseSessionResponse(_ frame: NetBIOSFrame) throws(CodecError) -> SessionResponse {
        var r = ByteReader(frame.payload)
        switch frame.type {
        case MessageType.positiveResponse:
            return .positive
        case MessageType.negativeResponse:
            return .negative(errorCode: try r.readUInt8())
        case MessageType.retargetResponse:
            let ip = try r.readBytes(4)
            let port = try r.readUInt16BE()
            return .retarget(address: IPv4Octets(ip[0], ip[1], ip[2], ip[3]), port: port)
        default:
            throw .unexpectedMessage("NetBIOS type 0x\(String(frame.type, radix: 16)) in answer to a session request")
        }
    }

    /// Server side: the positive session response.
    public static func positiveResponse() -> [UInt8] { [MessageType.positiveResponse, 0, 0, 0] }

    /// Server side: a negative session response with an error code.
    public static func negativeResponse(errorCode: UInt8 = 0x82) -> [UInt8] {
        [MessageType.negativeResponse, 0, 0, 1, errorCode]
    }

    /// Server side: parses a session request's called and calling names.
    public static func parseSessionRequest(_ frame: NetBIOSFrame) throws(CodecError) -> (called: NetBIOSName, calling: NetBIOSName) {
        guard frame.type == MessageType.sessionRequest else { throw .unexpectedMessage("not a session request") }
        var r = ByteReader(frame.payload)
        func name(_ r: inout ByteReader) throws(CodecError) -> NetBIOSName {
            guard try r.readUInt8() == 0x20 else { throw .invalidValue("NetBIOS name length is not 32") }
            let raw = try NetBIOSName.decodeFirstLevel(try r.readBytes(32))
            _ = try r.readCString(maxLength: 255) // scope labels, ignored
            return NetBIOSName.fromRaw(raw)
        }
        let called = try name(&r)
        let calling = try name(&r)
        return (called, calling)
    }
}

/// One NetBIOS session-service frame: its type and payload.
public struct NetBIOSFrame: Equatable, Sendable {
    public var type: UInt8
    public var payload: [UInt8]

    public init(type: UInt8, payload: [UInt8]) {
        self.type = type
        self.payload = payload
    }

    /// Parses exactly one complete frame (header + payload).
    public init(bytes: [UInt8]) throws(CodecError) {
        var decoder = NetBIOSFrameDecoder(maxFrameSize: NetBIOSSession.maxLength)
        decoder.feed(bytes)
        guard let frame = try decoder.nextFrame() else { throw .truncated("incomplete NetBIOS frame") }
        guard decoder.bufferedByteCount == 0 else { throw .invalidValue("bytes after the NetBIOS frame") }
        self = frame
    }

    /// The frame on the wire.
    public var bytes: [UInt8] {
        (try? NetBIOSSession.frame(payload, type: type)) ?? []
    }
}
