/// One connection of a simulated worm-era SMB host, as a pure state machine.
///
/// It answers everything ``SMBProbe`` sends: the NetBIOS session request, SMB1 and SMB2
/// negotiates, the NTLMSSP exchange (raw or in SPNEGO), the legacy null session, the IPC$ tree
/// connect, PeekNamedPipe and the DoublePulsar Trans2 ping, according to its
/// ``SimulatedSMBProfile``. Create one per accepted connection.
public struct SimulatedSMBServer: Sendable {
    /// What the connection does with one client frame.
    public enum ServerAction: Equatable, Sendable {
        /// Write these bytes (one complete NetBIOS frame).
        case send([UInt8])
        /// Close (reset) the connection, as a host with SMBv1 disabled does.
        case close
        /// Nothing to answer.
        case none
    }

    public let profile: SimulatedSMBProfile
    private var input = NetBIOSFrameDecoder(maxFrameSize: 64 * 1024)
    private var closed = false
    private var smb1Extended = false
    private var loggedOnUID: UInt16?
    private var pendingUID: UInt16?
    private var connectedTID: UInt16?
    private var smb2Dialect: UInt16?
    private var smb2LoggedOn = false

    static let uid: UInt16 = 0x0800
    static let tid: UInt16 = 0x0801
    static let sessionID: UInt64 = 0x0000_0400_0000_0011

    public init(profile: SimulatedSMBProfile) {
        self.profile = profile
    }

    /// True once the server closed the connection.
    public var isClosed: Bool { closed }

    /// Answers one complete client frame (NetBIOS header included).
    public mutating func respond(to frame: [UInt8]) -> ServerAction {
        guard !closed else { return .none }
        guard let parsed = try? NetBIOSFrame(bytes: frame) else { return close() }
        return respond(to: parsed)
    }

    /// Feeds bytes from the socket; returns the actions for every complete frame, in order.
    public mutating func receive(_ bytes: [UInt8]) -> [ServerAction] {
        guard !closed else { return [] }
        input.feed(bytes)
        var actions: [ServerAction] = []
        while !closed {
            do {
                guard let frame = try input.nextFrame() else { break }
                actions.append(respond(to: frame))
            } catch {
                actions.append(close())
            }
        }
        return actions
    }

    /// Answers one decoded frame.
    public mutating func respond(to frame: NetBIOSFrame) -> ServerAction {
        guard !closed else { return .none }
        switch frame.type {
        case NetBIOSSession.MessageType.sessionRequest:
            guard let names = try? NetBIOSSession.parseSessionRequest(frame) else { return close() }
            let called = names.called.name
            if called == NetBIOSName.anySMBServer.name || called == NetBIOSName(name: profile.computerName).name {
                return .send(NetBIOSSession.positiveResponse())
            }
            return .send(NetBIOSSession.negativeResponse(errorCode: 0x82))
        case NetBIOSSession.MessageType.keepAlive:
            return .none
        case NetBIOSSession.MessageType.sessionMessage:
            let payload = frame.payload
            guard payload.count >= 4 else { return close() }
            let protocolID = Array(payload.prefix(4))
            if protocolID == SMB1Header.protocolID {
                guard let message = try? SMB1Message.parse(payload) else { return close() }
                return respondSMB1(message)
            }
            if protocolID == SMB2Header.protocolID {
                return respondSMB2(payload)
            }
            return close()
        default:
            return close()
        }
    }

    private mutating func close() -> ServerAction {
        closed = true
        return .close
    }

    // MARK: - SMB1

    private mutating func respondSMB1(_ message: SMB1Message) -> ServerAction {
        let header = message.header
        switch header.command {
        case SMB1Command.negotiate:
            return negotiateSMB1(message)
        case SMB1Command.sessionSetupAndX:
            return sessionSetupSMB1(message)
        case SMB1Command.treeConnectAndX:
            guard loggedOnUID != nil, header.uid == loggedOnUID else {
                return .send(SMB1TreeConnectResponse(status: .accessDenied, tid: 0).makeReply(requestHeader: header))
            }
            let path = (try? SMB1TreeConnect.parseRequestPath(message)) ?? ""
            guard path.uppercased().hasSuffix("\\IPC$") else {
                return .send(SMB1TreeConnectResponse(status: .badNetworkName, tid: 0).makeReply(requestHeader: header))
            }
            connectedTID = Self.tid
            return .send(SMB1TreeConnectResponse(status: .success, tid: Self.tid, service: "IPC").makeReply(requestHeader: header))
        case SMB1Command.transaction, SMB1Command.transaction2:
            return transactionSMB1(message)
        default:
            return .send(SMB1Transaction.makeStatusReply(requestHeader: header, status: .notImplemented))
        }
    }

    private mutating func negotiateSMB1(_ message: SMB1Message) -> ServerAction {
        let header = message.header
        guard let dialects = try? SMB1Negotiate.parseRequestDialects(message) else { return close() }
        if profile.smb2Enabled, let smb2 = dialects.lastIndex(where: { $0 == "SMB 2.???" || $0 == "SMB 2.002" }) {
            let dialect = dialects[smb2] == "SMB 2.002" ? SMB2Dialect.smb202 : SMB2Dialect.wildcard
            smb2Dialect = dialect
            return .send(smb2NegotiateResponse(dialect: dialect).makeReply(messageID: 0))
        }
        guard profile.smb1Enabled else { return close() }
        guard let index = dialects.lastIndex(of: "NT LM 0.12") else {
            return .send(SMB1NegotiateResponse(dialectIndex: 0xFFFF, flags2: SMB1Flags2.ntStatus).makeReply(requestHeader: header))
        }
        smb1Extended = profile.extendedSecurity && header.flags2 & SMB1Flags2.extendedSecurity != 0
        var securityMode = SMB1SecurityMode.userSecurity | SMB1SecurityMode.encryptPasswords
        if profile.signingRequired { securityMode |= SMB1SecurityMode.signaturesEnabled | SMB1SecurityMode.signaturesRequired }
        var capabilities = SMB1Capabilities.unicode | SMB1Capabilities.largeFiles | SMB1Capabilities.ntSMBs
            | SMB1Capabilities.rpcRemoteAPIs | SMB1Capabilities.status32 | SMB1Capabilities.level2Oplocks | SMB1Capabilities.ntFind
        var flags2 = SMB1Flags2.ntStatus | SMB1Flags2.unicode | SMB1Flags2.longNames
        if smb1Extended {
            capabilities |= SMB1Capabilities.extendedSecurity
            flags2 |= SMB1Flags2.extendedSecurity
        }
        let response = SMB1NegotiateResponse(
            dialectIndex: UInt16(index), flags2: flags2, securityMode: securityMode, maxMpxCount: 50, maxBufferSize: 16644,
            sessionKey: 0x0000_1234, capabilities: capabilities, systemTime: profile.systemTime, timeZone: 0,
            challenge: smb1Extended ? nil : [0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88],
            serverGUID: smb1Extended ? profile.serverGUID : nil,
            securityBlob: smb1Extended ? SPNEGO.serverNegTokenInit() : nil,
            domainName: smb1Extended ? nil : profile.domain.uppercased(),
            serverName: smb1Extended ? nil : profile.computerName.uppercased())
        return .send(response.makeReply(requestHeader: header))
    }

    private mutating func sessionSetupSMB1(_ message: SMB1Message) -> ServerAction {
        let header = message.header
        guard let request = try? SMB1SessionSetup.Request.parse(message) else {
            return .send(SMB1SessionSetupResponse(status: .invalidParameter, uid: 0).makeReply(requestHeader: header))
        }
        let unicode = header.isUnicode
        guard let blob = request.securityBlob else {
            // Legacy form.
            guard request.isLegacyNull else {
                return .send(SMB1SessionSetupResponse(status: .logonFailure, uid: 0).makeReply(requestHeader: header, unicode: unicode))
            }
            guard profile.nullSessionAllowed else {
                return .send(SMB1SessionSetupResponse(status: .accessDenied, uid: 0).makeReply(requestHeader: header, unicode: unicode))
            }
            loggedOnUID = Self.uid
            return .send(SMB1SessionSetupResponse(status: .success, uid: Self.uid, nativeOS: profile.nativeOS,
                                                  nativeLanMan: profile.nativeLanMan, primaryDomain: profile.domain)
                .makeReply(requestHeader: header, unicode: unicode))
        }
        let spnego = blob.first == 0x60 || blob.first == 0xA1
        switch NTLMSSP.messageType(of: blob) {
        case NTLMSSP.MessageType.negotiate:
            pendingUID = Self.uid
            let challenge = profile.ntlmIdentity.makeChallengeMessage()
            let token = spnego ? SPNEGO.negTokenResp(responseToken: challenge, negState: 1, supportedMech: true) : challenge
            return .send(SMB1SessionSetupResponse(status: .moreProcessingRequired, uid: Self.uid, securityBlob: token,
                                                  nativeOS: profile.nativeOS, nativeLanMan: profile.nativeLanMan)
                .makeReply(requestHeader: header, unicode: unicode))
        case NTLMSSP.MessageType.authenticate:
            guard pendingUID != nil, header.uid == pendingUID else {
                return .send(SMB1SessionSetupResponse(status: .invalidParameter, uid: 0).makeReply(requestHeader: header, unicode: unicode))
            }
            let anonymous = (try? NTLMSSP.isAnonymousAuthenticate(blob)) ?? false
            guard anonymous, profile.nullSessionAllowed else {
                return .send(SMB1SessionSetupResponse(status: anonymous ? .accessDenied : .logonFailure, uid: 0)
                    .makeReply(requestHeader: header, unicode: unicode))
            }
            loggedOnUID = Self.uid
            let token = spnego ? SPNEGO.negTokenResp(responseToken: [], negState: 0) : []
            return .send(SMB1SessionSetupResponse(status: .success, uid: Self.uid, securityBlob: token,
                                                  nativeOS: profile.nativeOS, nativeLanMan: profile.nativeLanMan)
                .makeReply(requestHeader: header, unicode: unicode))
        default:
            return .send(SMB1SessionSetupResponse(status: .invalidParameter, uid: 0).makeReply(requestHeader: header, unicode: unicode))
        }
    }

    private mutating func transactionSMB1(_ message: SMB1Message) -> ServerAction {
        let header = message.header
        guard let setup = try? SMB1Transaction.parseSetup(message) else {
            return .send(SMB1Transaction.makeStatusReply(requestHeader: header, status: .invalidParameter))
        }
        if header.command == SMB1Command.transaction2, setup.subcommand == SMB1Transaction.trans2SessionSetup {
            let mid = profile.doublePulsarInstalled ? header.mid &+ 16 : header.mid
            return .send(SMB1Transaction.makeStatusReply(requestHeader: header, status: .notImplemented, mid: mid))
        }
        guard connectedTID != nil, header.tid == connectedTID else {
            return .send(SMB1Transaction.makeStatusReply(requestHeader: header, status: .invalidHandle))
        }
        if header.command == SMB1Command.transaction, setup.subcommand == SMB1Transaction.peekNamedPipe, setup.fid == 0 {
            let status = profile.ms17010Vulnerable ? NTStatus.insufficientServerResources : profile.patchedPeekStatus
            return .send(SMB1Transaction.makeStatusReply(requestHeader: header, status: status))
        }
        return .send(SMB1Transaction.makeStatusReply(requestHeader: header, status: .notImplemented))
    }

    // MARK: - SMB2

    private func smb2NegotiateResponse(dialect: UInt16) -> SMB2NegotiateResponse {
        var mode = SMB2SecurityMode.signingEnabled
        if profile.signingRequired { mode |= SMB2SecurityMode.signingRequired }
        return SMB2NegotiateResponse(dialect: dialect, securityMode: mode, serverGUID: profile.serverGUID,
                                     capabilities: dialect >= SMB2Dialect.smb210 ? 0x0000_0007 : 0x0000_0001,
                                     maxTransactSize: 8_388_608, maxReadSize: 8_388_608, maxWriteSize: 8_388_608,
                                     systemTime: profile.systemTime, serverStartTime: 0,
                                     securityBlob: SPNEGO.serverNegTokenInit())
    }

    private mutating func respondSMB2(_ payload: [UInt8]) -> ServerAction {
        guard profile.smb2Enabled else { return close() }
        var r = ByteReader(payload)
        guard let header = try? SMB2Header.read(from: &r) else { return close() }
        switch header.command {
        case SMB2Command.negotiate:
            guard let request = try? SMB2Negotiate.parseRequestDialects(payload) else { return close() }
            guard let dialect = request.dialects.filter({ $0 <= profile.maxSMB2Dialect && SMB2Dialect.all.contains($0) }).max() else {
                var failed = smb2NegotiateResponse(dialect: 0)
                failed.status = .notSupported
                return .send(failed.makeReply(messageID: header.messageID))
            }
            smb2Dialect = dialect
            return .send(smb2NegotiateResponse(dialect: dialect).makeReply(messageID: header.messageID))
        case SMB2Command.sessionSetup:
            guard smb2Dialect != nil, let request = try? SMB2SessionSetup.parseRequestBlob(payload) else { return close() }
            if NTLMSSP.messageType(of: request.blob) == NTLMSSP.MessageType.negotiate {
                let challenge = profile.ntlmIdentity.makeChallengeMessage()
                let token = SPNEGO.negTokenResp(responseToken: challenge, negState: 1, supportedMech: true)
                return .send(SMB2SessionSetup.Response(status: .moreProcessingRequired, sessionID: Self.sessionID,
                                                       securityBlob: token).makeReply(messageID: header.messageID))
            }
            let anonymous = NTLMSSP.messageType(of: request.blob) == NTLMSSP.MessageType.authenticate
                && ((try? NTLMSSP.isAnonymousAuthenticate(request.blob)) ?? false)
            guard anonymous, profile.nullSessionAllowed, header.sessionID == Self.sessionID else {
                return .send(SMB2SessionSetup.Response(status: anonymous ? .accessDenied : .logonFailure, sessionID: 0, securityBlob: [])
                    .makeReply(messageID: header.messageID))
            }
            smb2LoggedOn = true
            return .send(SMB2SessionSetup.Response(status: .success, sessionID: Self.sessionID, securityBlob: SPNEGO.negTokenResp(responseToken: [], negState: 0),
                                                   sessionFlags: SMB2SessionSetup.SessionFlags.isNull).makeReply(messageID: header.messageID))
        case SMB2Command.treeConnect:
            guard let request = try? SMB2TreeConnect.parseRequest(payload) else { return close() }
            guard smb2LoggedOn, request.header.sessionID == Self.sessionID else {
                return .send(SMB2TreeConnect.Response(status: .userSessionDeleted, treeID: 0, shareType: nil)
                    .makeReply(messageID: header.messageID, sessionID: request.header.sessionID))
            }
            guard request.path.uppercased().hasSuffix("\\IPC$") else {
                return .send(SMB2TreeConnect.Response(status: .badNetworkName, treeID: 0, shareType: nil)
                    .makeReply(messageID: header.messageID, sessionID: Self.sessionID))
            }
            return .send(SMB2TreeConnect.Response(status: .success, treeID: UInt32(Self.tid), shareType: SMB2TreeConnect.ShareType.pipe)
                .makeReply(messageID: header.messageID, sessionID: Self.sessionID))
        default:
            return close()
        }
    }
}
