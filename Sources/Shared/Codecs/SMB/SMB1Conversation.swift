/// One TCP connection of the SMB1 checks, as a pure state machine:
/// SMB1-only NEGOTIATE → (NTLMSSP NEGOTIATE → CHALLENGE → anonymous AUTHENTICATE | legacy null
/// session) → TREE_CONNECT `\\host\IPC$` → PeekNamedPipe FID 0 → Trans2 SESSION_SETUP MID 65.
///
/// A connection closed or reset in answer to the SMB1-only negotiate means SMBv1 is disabled
/// (MS-SMB2 3.3.5.3.2); a timeout there leaves it unknown.
public struct SMB1Conversation: Sendable {
    private enum State: Sendable {
        case idle, sessionRequest, negotiate, challenge, logon, treeConnect, peek, doublePulsar, done
    }

    private let options: SMBProbeOptions
    private let calledName: NetBIOSName?
    private var state: State = .idle
    private var input: SMBFrameInput
    private var mid: UInt16 = 1
    private var uid: UInt16 = 0
    private var tid: UInt16 = 0
    private var sessionKey: UInt32 = 0
    private var useSPNEGO = false
    /// What has been found so far (merged into the probe's result).
    public private(set) var result: SMBProbeResult
    /// The error code of a negative NetBIOS session response, if the called name was refused.
    public private(set) var netBIOSRefusal: UInt8?

    /// - Parameters:
    ///   - calledName: the NetBIOS name for a session request first (TCP 139), nil for TCP 445.
    ///   - result: the result to add to.
    public init(options: SMBProbeOptions, calledName: NetBIOSName? = nil, result: SMBProbeResult = SMBProbeResult()) {
        self.options = options
        self.calledName = calledName
        self.result = result
        self.input = SMBFrameInput(maxFrameSize: options.maxFrameSize)
    }

    /// True once the conversation has finished.
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

    /// Bytes arrived from the host.
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
            return finish("bad reply: \(error.reason)")
        }
    }

    /// The host closed or reset the connection.
    public mutating func connectionClosed() -> SMBConversationAction {
        switch state {
        case .negotiate:
            result.smb1 = .disabled(reason: "connection closed at the SMB1-only negotiate")
            return finish("SMBv1 disabled")
        case .done:
            return .done
        default:
            return finish("connection closed")
        }
    }

    /// The connection could not be opened, or the driver gives up for another reason.
    public mutating func abandon(reason: String) -> SMBConversationAction {
        finish(reason)
    }

    /// No answer in time.
    public mutating func timedOut() -> SMBConversationAction {
        if state == .negotiate { result.smb1 = .unknown(reason: "no answer to the SMB1-only negotiate") }
        return finish("timeout")
    }

    // MARK: - Steps

    private mutating func nextMID() -> UInt16 {
        mid &+= 1
        if mid == SMB1Transaction.doublePulsarRequestMID || mid == SMB1Transaction.doublePulsarReplyMID { mid &+= 1 }
        return mid
    }

    private mutating func sendNegotiate() -> SMBConversationAction {
        state = .negotiate
        return .send(SMB1Negotiate.smb1OnlyRequest(extendedSecurity: options.securityMode == .extended,
                                                   pid: options.pid, mid: mid))
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
                return finish("NetBIOS session retargeted")
            }
        }
        guard frame.type == NetBIOSSession.MessageType.sessionMessage else {
            throw .unexpectedMessage("NetBIOS frame type 0x\(String(frame.type, radix: 16))")
        }
        switch state {
        case .negotiate: return try handleNegotiate(frame.payload)
        case .challenge: return try handleChallenge(try SMB1Message.parse(frame.payload))
        case .logon: return try handleLogon(try SMB1Message.parse(frame.payload))
        case .treeConnect: return try handleTreeConnect(try SMB1Message.parse(frame.payload))
        case .peek: return try handlePeek(try SMB1Message.parse(frame.payload))
        case .doublePulsar: return handleDoublePulsar(try SMB1Message.parse(frame.payload))
        case .idle, .sessionRequest, .done: return .wait
        }
    }

    private mutating func handleNegotiate(_ payload: [UInt8]) throws(CodecError) -> SMBConversationAction {
        switch try SMBNegotiateReply.parse(payload) {
        case .smb2:
            result.smb1 = .unknown(reason: "answered the SMB1-only negotiate with SMB2")
            return finish("SMB2 reply to SMB1 negotiate")
        case .smb1(let negotiate):
            result.smb1Negotiate = negotiate
            if negotiate.noDialectAccepted {
                result.smb1 = .disabled(reason: "no dialect accepted (index 0xFFFF)")
                return finish("SMBv1 refused")
            }
            if negotiate.status.isError {
                result.smb1 = .unknown(reason: "negotiate status \(negotiate.status)")
                return finish("negotiate failed")
            }
            let dialects = SMB1Negotiate.nmapDialects
            let index = Int(negotiate.dialectIndex)
            result.smb1 = .enabled(dialect: index < dialects.count ? dialects[index] : "index \(index)")
            sessionKey = negotiate.sessionKey
            guard options.needsSMB1Session else { return finish("done") }
            if negotiate.extendedSecurity {
                useSPNEGO = negotiate.offersSPNEGO
                let token = NTLMSSP.negotiateMessage()
                state = .challenge
                return .send(SMB1SessionSetup.extendedRequest(
                    securityBlob: useSPNEGO ? SPNEGO.negTokenInit(mechToken: token) : token,
                    sessionKey: sessionKey, pid: options.pid, uid: 0, mid: nextMID()))
            }
            guard options.needsAnonymousLogon else { return finish("no NTLMSSP without extended security") }
            state = .logon
            return .send(SMB1SessionSetup.legacyNullRequest(sessionKey: sessionKey, pid: options.pid, mid: nextMID()))
        }
    }

    private mutating func handleChallenge(_ message: SMB1Message) throws(CodecError) -> SMBConversationAction {
        let reply = try SMB1SessionSetupResponse.parse(message)
        guard reply.status == .moreProcessingRequired, let blob = reply.securityBlob else {
            result.note("NTLMSSP NEGOTIATE answered with \(reply.status)")
            if options.needsAnonymousLogon { result.nullSession = .unknown(reason: "NTLMSSP negotiate refused: \(reply.status)") }
            return finish("NTLMSSP negotiate refused")
        }
        uid = reply.uid
        if reply.nativeOS.map({ !$0.isEmpty }) == true { result.nativeOS = reply.nativeOS }
        if reply.nativeLanMan.map({ !$0.isEmpty }) == true { result.nativeLanMan = reply.nativeLanMan }
        do {
            result.ntlm = try NTLMChallengeInfo.parse(blob: blob)
        } catch {
            result.note("unreadable NTLMSSP CHALLENGE: \(error.reason)")
        }
        guard options.needsAnonymousLogon else { return finish("done") }
        let token = NTLMSSP.anonymousAuthenticateMessage()
        state = .logon
        return .send(SMB1SessionSetup.extendedRequest(
            securityBlob: useSPNEGO ? SPNEGO.negTokenResp(responseToken: token) : token,
            sessionKey: sessionKey, pid: options.pid, uid: uid, mid: nextMID()))
    }

    private mutating func handleLogon(_ message: SMB1Message) throws(CodecError) -> SMBConversationAction {
        let reply = try SMB1SessionSetupResponse.parse(message)
        if reply.nativeOS.map({ !$0.isEmpty }) == true { result.nativeOS = reply.nativeOS }
        if reply.nativeLanMan.map({ !$0.isEmpty }) == true { result.nativeLanMan = reply.nativeLanMan }
        if reply.primaryDomain.map({ !$0.isEmpty }) == true { result.primaryDomain = reply.primaryDomain }
        guard reply.status == .success else {
            result.nullSession = .denied(reply.status)
            return finish("anonymous logon refused")
        }
        result.nullSession = .allowed(guest: reply.isGuest)
        uid = reply.uid
        state = .treeConnect
        return .send(SMB1TreeConnect.request(path: SMB1TreeConnect.ipcPath(host: options.host),
                                             pid: options.pid, uid: uid, mid: nextMID()))
    }

    private mutating func handleTreeConnect(_ message: SMB1Message) throws(CodecError) -> SMBConversationAction {
        let reply = try SMB1TreeConnectResponse.parse(message)
        guard reply.status == .success else {
            result.ipc = .denied(reply.status)
            return finish("IPC$ refused")
        }
        guard reply.tid != 0 else {
            result.ipc = .unknown(reason: "tree connect succeeded with TID 0")
            return finish("no usable TID")
        }
        tid = reply.tid
        result.ipc = .connected(tid: UInt32(tid))
        return nextTransaction()
    }

    private mutating func nextTransaction() -> SMBConversationAction {
        if options.ms17010, result.ms17010 == .notTested {
            state = .peek
            return .send(SMB1Transaction.ms17010PeekNamedPipe(pid: options.pid, uid: uid, tid: tid, mid: nextMID()))
        }
        if options.doublePulsar, result.doublePulsar == .notTested {
            state = .doublePulsar
            return .send(SMB1Transaction.doublePulsarPing(pid: options.pid, uid: uid, tid: tid))
        }
        return finish("done")
    }

    private mutating func handlePeek(_ message: SMB1Message) throws(CodecError) -> SMBConversationAction {
        guard message.header.command == SMB1Command.transaction else {
            result.ms17010 = .unknown(reason: "reply to PeekNamedPipe was command 0x\(String(message.header.command, radix: 16))",
                                      status: message.header.status)
            return nextTransaction()
        }
        result.ms17010 = SMBProbeResult.classifyMS17010(message.header.status)
        return nextTransaction()
    }

    private mutating func handleDoublePulsar(_ message: SMB1Message) -> SMBConversationAction {
        let replyMID = message.header.mid
        if replyMID == SMB1Transaction.doublePulsarReplyMID {
            result.doublePulsar = .present(mid: replyMID, status: message.header.status)
        } else {
            result.doublePulsar = .absent(mid: replyMID, status: message.header.status)
        }
        return finish("done")
    }

    /// Ends the conversation; requested checks that never ran become `unknown(reason)`.
    private mutating func finish(_ reason: String) -> SMBConversationAction {
        state = .done
        let why = Evidence.sanitize(reason)
        if options.checkSMB1, result.smb1 == .notTested { result.smb1 = .unknown(reason: why) }
        if options.nullSession || options.ms17010 || options.doublePulsar {
            if result.nullSession == .notTested { result.nullSession = .unknown(reason: why) }
            if result.ipc == .notTested { result.ipc = .unknown(reason: why) }
        }
        if options.ms17010, result.ms17010 == .notTested { result.ms17010 = .unknown(reason: why, status: nil) }
        if options.doublePulsar, result.doublePulsar == .notTested { result.doublePulsar = .unknown(reason: why) }
        return .done
    }
}
