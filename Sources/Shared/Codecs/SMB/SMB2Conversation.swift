/// One TCP connection of the SMB2 checks, as a pure state machine: SMB2 NEGOTIATE (2.0.2 to
/// 3.1.1), then optionally the first SESSION_SETUP leg to read the NTLMSSP CHALLENGE, and the
/// null-session check: an anonymous AUTHENTICATE and a TREE_CONNECT to `\\host\IPC$`, as
/// `smbclient -N -L` does over SMB2/3 (nothing is opened or read on the tree).
public struct SMB2Conversation: Sendable {
    private enum State: Sendable { case idle, sessionRequest, negotiate, challenge, logon, treeConnect, done }

    private let options: SMBProbeOptions
    private let calledName: NetBIOSName?
    private let readChallenge: Bool
    private var sessionID: UInt64 = 0
    private var messageID: UInt64 = 0
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
            return finish(Evidence.sanitize("bad reply: \(error.reason)"))
        }
    }

    public mutating func connectionClosed() -> SMBConversationAction {
        if state == .negotiate { result.smb2 = .unsupported(reason: "connection closed at the SMB2 negotiate") }
        return finish("connection closed")
    }

    /// The connection could not be opened, or the driver gives up for another reason.
    public mutating func abandon(reason: String) -> SMBConversationAction {
        if state == .idle || state == .negotiate || state == .sessionRequest, result.smb2 == .notTested {
            result.smb2 = .unknown(reason: Evidence.sanitize(reason))
        }
        return finish(Evidence.sanitize(reason))
    }

    public mutating func timedOut() -> SMBConversationAction {
        if state == .negotiate { result.smb2 = .unknown(reason: "no answer to the SMB2 negotiate") }
        return finish("no answer")
    }

    /// The check for an anonymous session runs on this connection (when SMB2 is checked at all).
    private var checksNullSession: Bool { options.nullSession && options.checkSMB2 }

    private mutating func nextMessageID() -> UInt64 {
        defer { messageID += 1 }
        return messageID
    }

    private mutating func sendNegotiate() -> SMBConversationAction {
        state = .negotiate
        return .send(SMB2Negotiate.request(clientGUID: options.clientGUID, salt: options.preauthSalt, messageID: nextMessageID()))
    }

    private mutating func handle(_ frame: NetBIOSFrame) throws(CodecError) -> SMBConversationAction {
        if state == .sessionRequest {
            switch try NetBIOSSession.parseSessionResponse(frame) {
            case .positive:
                return sendNegotiate()
            case .negative(let code):
                netBIOSRefusal = code
                result.note("NetBIOS session refused for \(calledName?.name ?? "?") (0x\(String(code, radix: 16)))")
                return finish("NetBIOS session refused")
            case .retarget:
                result.note("NetBIOS retarget response")
                return finish("NetBIOS retarget")
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
            guard reply.status == .moreProcessingRequired else {
                result.note("SMB2 NTLMSSP NEGOTIATE answered with \(reply.status)")
                if checksNullSession { result.smb2NullSession = .unknown(reason: Evidence.sanitize("NTLMSSP negotiate refused: \(reply.status)")) }
                return finish("NTLMSSP negotiate refused")
            }
            if result.ntlm == nil {
                do { result.ntlm = try NTLMChallengeInfo.parse(blob: reply.securityBlob) }
                catch { result.note("unreadable NTLMSSP CHALLENGE over SMB2: \(error.reason)") }
            }
            guard checksNullSession else { return finish("done") }
            sessionID = reply.sessionID
            state = .logon
            let token = SPNEGO.negTokenResp(responseToken: NTLMSSP.anonymousAuthenticateMessage())
            return .send(SMB2SessionSetup.request(securityBlob: token, messageID: nextMessageID(), sessionID: sessionID))
        case .logon:
            let reply = try SMB2SessionSetup.Response.parse(frame.payload)
            guard reply.status == .success else {
                result.smb2NullSession = .denied(reply.status)
                return finish("anonymous logon refused")
            }
            // A session the server would encrypt cannot take an unencrypted tree connect.
            if reply.sessionFlags & SMB2SessionSetup.SessionFlags.encryptData != 0 {
                result.smb2NullSession = .allowed(guest: reply.sessionFlags & SMB2SessionSetup.SessionFlags.isGuest != 0)
                result.smb2IPC = .unknown(reason: "the server encrypts the anonymous session; IPC$ not tried")
                return finish("encrypted session")
            }
            result.smb2NullSession = .allowed(guest: reply.sessionFlags & SMB2SessionSetup.SessionFlags.isGuest != 0)
            state = .treeConnect
            return .send(SMB2TreeConnect.request(path: SMB1TreeConnect.ipcPath(host: options.host), messageID: nextMessageID(),
                                                 sessionID: sessionID))
        case .treeConnect:
            let reply = try SMB2TreeConnect.Response.parse(frame.payload)
            guard reply.status == .success else {
                result.smb2IPC = .denied(reply.status)
                return finish("IPC$ refused")
            }
            guard reply.treeID != 0, reply.shareType == SMB2TreeConnect.ShareType.pipe else {
                result.smb2IPC = .unknown(reason: "tree connect succeeded with tree ID \(reply.treeID), share type \(reply.shareType.map { String($0) } ?? "?")")
                return finish("unexpected IPC$ answer")
            }
            result.smb2IPC = .connected(tid: reply.treeID)
            return finish("done")
        case .idle, .sessionRequest, .done:
            return .wait
        }
    }

    private mutating func handleNegotiate(_ payload: [UInt8]) throws(CodecError) -> SMBConversationAction {
        guard payload.count >= 4 else { throw .truncated("short SMB payload") }
        if Array(payload.prefix(4)) == SMB1Header.protocolID {
            result.smb2 = .unsupported(reason: "answered the SMB2 negotiate with SMB1")
            return finish("no SMB2")
        }
        var r = ByteReader(payload)
        let header = try SMB2Header.read(from: &r)
        guard header.status == .success else {
            result.smb2 = .unsupported(reason: "SMB2 negotiate status \(header.status)")
            return finish("no SMB2")
        }
        let negotiate = try SMB2NegotiateResponse.parse(payload)
        guard negotiate.dialect != SMB2Dialect.wildcard, SMB2Dialect.all.contains(negotiate.dialect) else {
            result.smb2 = .unknown(reason: "server chose dialect \(SMB2Dialect.name(negotiate.dialect))")
            return finish("no SMB2 dialect")
        }
        result.smb2 = .supported(negotiate)
        guard readChallenge || checksNullSession else { return finish("done") }
        state = .challenge
        let blob = SPNEGO.negTokenInit(mechToken: NTLMSSP.negotiateMessage())
        return .send(SMB2SessionSetup.request(securityBlob: blob, messageID: nextMessageID()))
    }

    /// Ends the conversation; requested checks that never ran become `unknown(reason)`.
    private mutating func finish(_ reason: String = "SMB2 negotiate not completed") -> SMBConversationAction {
        state = .done
        if result.smb2 == .notTested { result.smb2 = .unknown(reason: "SMB2 negotiate not completed") }
        if checksNullSession {
            if result.smb2NullSession == .notTested { result.smb2NullSession = .unknown(reason: reason) }
            if result.smb2IPC == .notTested { result.smb2IPC = .unknown(reason: reason) }
        }
        return .done
    }
}
