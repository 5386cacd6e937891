/// One TCP connection of the SMB2 checks, as a pure state machine: SMB2 NEGOTIATE (2.0.2 to
/// 3.1.1), then optionally the first SESSION_SETUP leg to read the NTLMSSP CHALLENGE.
public struct SMB2Conversation: Sendable {
    private enum State: Sendable { case idle, sessionRequest, negotiate, challenge, done }

    private let options: SMBProbeOptions
    private let calledName: NetBIOSName?
    private let readChallenge: Bool
    private var state: State = .idle
    private var input: SMBFrameInput
    /// What has been found so far.
    public private(set) var result: SMBProbeResult
    /// The error code of a negative NetBIOS session response, if the called name was refused.
    public private(set) var netBIOSRefusal: UInt8?

    /// - Parameter readChallenge: also send the NTLMSSP NEGOTIATE leg to read names and OS build.
    public init(options: SMBProbeOptions, calledName: NetBIOSName? = nil, readChallenge: Bool,
                result: SMBProbeResult = SMBProbeResult()) {
        self.options = options
        self.calledName = calledName
        self.readChallenge = readChallenge
        self.result = result
        self.input = SMBFrameInput(maxFrameSize: options.maxFrameSize)
    }

    public var isDone: Bool { state == .done }

    /// The connection is open: returns the first bytes to send.
    public mutating func connected() -> SMBConversationAction {
        guard state == .idle else { return .wait }
        if let calledName {
            state = .sessionRequest
            return .send(NetBIOSSession.sessionRequest(calledName: calledName))
        }
        return sendNegotiate()
    }

    public mutating func receive(_ bytes: [UInt8]) -> SMBConversationAction {
        guard state != .done, state != .idle else { return state == .done ? .done : .wait }
        input.decoder.feed(bytes)
        do {
            while let frame = try input.next() {
                let action = try handle(frame)
                if action != .wait { return action }
            }
            return .wait
        } catch {
            if state == .negotiate { result.smb2 = .unknown(reason: Evidence.sanitize("bad reply: \(error.reason)")) }
            else { result.note("SMB2 session setup: \(error.reason)") }
            return finish()
        }
    }

    public mutating func connectionClosed() -> SMBConversationAction {
        if state == .negotiate { result.smb2 = .unsupported(reason: "connection closed at the SMB2 negotiate") }
        return finish()
    }

    /// The connection could not be opened, or the driver gives up for another reason.
    public mutating func abandon(reason: String) -> SMBConversationAction {
        if state == .idle || state == .negotiate || state == .sessionRequest, result.smb2 == .notTested {
            result.smb2 = .unknown(reason: Evidence.sanitize(reason))
        }
        return finish()
    }

    public mutating func timedOut() -> SMBConversationAction {
        if state == .negotiate { result.smb2 = .unknown(reason: "no answer to the SMB2 negotiate") }
        return finish()
    }

    private mutating func sendNegotiate() -> SMBConversationAction {
        state = .negotiate
        return .send(SMB2Negotiate.request(clientGUID: options.clientGUID, salt: options.preauthSalt, messageID: 0))
    }

    private mutating func handle(_ frame: NetBIOSFrame) throws(CodecError) -> SMBConversationAction {
        if state == .sessionRequest {
            switch try NetBIOSSession.parseSessionResponse(frame) {
            case .positive:
                return sendNegotiate()
            case .negative(let code):
                netBIOSRefusal = code
                result.note("NetBIOS session refused for \(calledName?.name ?? "?") (0x\(String(code, radix: 16)))")
                return finish()
            case .retarget:
                result.note("NetBIOS retarget response")
                return finish()
            }
        }
        guard frame.type == NetBIOSSession.MessageType.sessionMessage else {
            throw .unexpectedMessage("NetBIOS frame type 0x\(String(frame.type, radix: 16))")
        }
        switch state {
        case .negotiate:
            return try handleNegotiate(frame.payload)
        case .challenge:
            let reply = try SMB2SessionSetup.Response.parse(frame.payload)
            if reply.status == .moreProcessingRequired {
                do { result.ntlm = try NTLMChallengeInfo.parse(blob: reply.securityBlob) }
                catch { result.note("unreadable NTLMSSP CHALLENGE over SMB2: \(error.reason)") }
            } else {
                result.note("SMB2 NTLMSSP NEGOTIATE answered with \(reply.status)")
            }
            return finish()
        case .idle, .sessionRequest, .done:
            return .wait
        }
    }

    private mutating func handleNegotiate(_ payload: [UInt8]) throws(CodecError) -> SMBConversationAction {
        guard payload.count >= 4 else { throw .truncated("short SMB payload") }
        if Array(payload.prefix(4)) == SMB1Header.protocolID {
            result.smb2 = .unsupported(reason: "answered the SMB2 negotiate with SMB1")
            return finish()
        }
        var r = ByteReader(payload)
        let header = try SMB2Header.read(from: &r)
        guard header.status == .success else {
            result.smb2 = .unsupported(reason: "SMB2 negotiate status \(header.status)")
            return finish()
        }
        let negotiate = try SMB2NegotiateResponse.parse(payload)
        guard negotiate.dialect != SMB2Dialect.wildcard, SMB2Dialect.all.contains(negotiate.dialect) else {
            result.smb2 = .unknown(reason: "server chose dialect \(SMB2Dialect.name(negotiate.dialect))")
            return finish()
        }
        result.smb2 = .supported(negotiate)
        guard readChallenge else { return finish() }
        state = .challenge
        let blob = SPNEGO.negTokenInit(mechToken: NTLMSSP.negotiateMessage())
        return .send(SMB2SessionSetup.request(securityBlob: blob, messageID: 1))
    }

    private mutating func finish() -> SMBConversationAction {
        state = .done
        if result.smb2 == .notTested { result.smb2 = .unknown(reason: "SMB2 negotiate not completed") }
        return .done
    }
}
