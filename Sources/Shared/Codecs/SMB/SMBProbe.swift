/// The whole SMB check of one host as a pure state machine over several TCP connections.
///
/// The SMB1-only negotiate and the SMB2 negotiate cannot share a connection, so the probe asks
/// its driver to open a fresh connection for each conversation (``SMB1Conversation``, then
/// ``SMB2Conversation``):
///
/// ```swift
/// var probe = SMBProbe(options: SMBProbeOptions(host: "198.18.0.1"))
/// var action = probe.start()
/// while true {
///     switch action {
///     case .openConnection:   // close any previous connection, connect to the same port
///         action = connect() ? probe.connected() : probe.connectFailed()
///     case .send(let bytes):  write(bytes); action = .wait
///     case .wait:             // read with a timeout
///         action = read().map(probe.receive) ?? (eof ? probe.connectionClosed() : probe.timedOut())
///     case .finished(let result): close(); return result
///     }
/// }
/// ```
public struct SMBProbe: Sendable {
    /// What the driver does next.
    public enum Action: Equatable, Sendable {
        /// Close the current connection (if any) and open a new one to the same host and port,
        /// then call ``SMBProbe/connected()`` or ``SMBProbe/connectFailed()``.
        case openConnection
        /// Write the bytes, then wait for input.
        case send([UInt8])
        /// Wait for input: call ``SMBProbe/receive(_:)``, ``SMBProbe/connectionClosed()`` or
        /// ``SMBProbe/timedOut()``.
        case wait
        /// All done: close the connection.
        case finished(SMBProbeResult)
    }

    /// The events a conversation handles.
    enum Event: Sendable {
        case connected
        case received([UInt8])
        case closed
        case timedOut
        case failed(String)
    }

    private enum Phase: Sendable { case smb1, smb2 }
    private enum Current: Sendable {
        case none
        case smb1(SMB1Conversation)
        case smb2(SMB2Conversation)
    }

    public let options: SMBProbeOptions
    private var phases: [Phase]
    private var current: Current = .none
    private var nameIndex = 0
    private var connections = 0
    private var finished = false
    /// The result so far.
    public private(set) var result = SMBProbeResult()

    /// The most connections one probe opens (NetBIOS name retries included).
    public static let maxConnections = 8

    public init(options: SMBProbeOptions) {
        self.options = options
        var phases: [Phase] = []
        if options.checkSMB1 || options.nullSession || options.ms17010 || options.doublePulsar { phases.append(.smb1) }
        if options.checkSMB2 || options.ntlmInfo { phases.append(.smb2) }
        self.phases = phases
    }

    /// Starts the probe (the first action is ``Action/openConnection``, unless nothing is to be checked).
    public mutating func start() -> Action { nextConversation() }

    /// The connection asked for by ``Action/openConnection`` is open.
    public mutating func connected() -> Action {
        connections += 1
        return drive(.connected)
    }

    /// The connection could not be opened (refused, unreachable, timeout).
    public mutating func connectFailed() -> Action {
        connections += 1
        return drive(.failed("connection failed"))
    }

    /// Bytes arrived on the current connection.
    public mutating func receive(_ bytes: [UInt8]) -> Action { drive(.received(bytes)) }

    /// The host closed or reset the current connection.
    public mutating func connectionClosed() -> Action { drive(.closed) }

    /// The current step got no answer in time.
    public mutating func timedOut() -> Action { drive(.timedOut) }

    // MARK: - Internals

    private mutating func drive(_ event: Event) -> Action {
        guard !finished else { return .finished(result) }
        let action: SMBConversationAction
        switch current {
        case .none:
            return nextConversation()
        case .smb1(var conversation):
            action = conversation.apply(event)
            current = .smb1(conversation)
        case .smb2(var conversation):
            action = conversation.apply(event)
            current = .smb2(conversation)
        }
        switch action {
        case .send(let bytes): return .send(bytes)
        case .wait: return .wait
        case .done: return conversationDone()
        }
    }

    private var calledNames: [NetBIOSName] {
        if case .netBIOS(let names) = options.transport { return names.isEmpty ? [.anySMBServer] : Array(names.prefix(4)) }
        return []
    }

    private var calledName: NetBIOSName? {
        let names = calledNames
        return names.isEmpty ? nil : names[min(nameIndex, names.count - 1)]
    }

    private mutating func conversationDone() -> Action {
        var refusal: UInt8?
        var phase: Phase?
        switch current {
        case .smb1(let conversation):
            result = conversation.result
            refusal = conversation.netBIOSRefusal
            phase = .smb1
        case .smb2(let conversation):
            result = conversation.result
            refusal = conversation.netBIOSRefusal
            phase = .smb2
        case .none:
            break
        }
        current = .none
        // A refused NetBIOS name: retry the same phase with the next name, on a new connection.
        if refusal != nil, let phase, nameIndex + 1 < calledNames.count, connections < Self.maxConnections {
            nameIndex += 1
            result.resetForRetry(smb1: phase == .smb1)
            phases.insert(phase, at: 0)
        }
        return nextConversation()
    }

    private mutating func nextConversation() -> Action {
        while !phases.isEmpty, connections < Self.maxConnections {
            let phase = phases.removeFirst()
            switch phase {
            case .smb1:
                current = .smb1(SMB1Conversation(options: options, calledName: calledName, result: result))
                return .openConnection
            case .smb2:
                let wantsChallenge = options.ntlmInfo && result.ntlm == nil
                guard options.checkSMB2 || wantsChallenge else { continue }
                current = .smb2(SMB2Conversation(options: options, calledName: calledName, readChallenge: wantsChallenge,
                                                 result: result))
                return .openConnection
            }
        }
        finished = true
        current = .none
        if options.checkSMB2, result.smb2 == .notTested { result.smb2 = .unknown(reason: "not reached") }
        return .finished(result)
    }
}

/// The events every one-connection conversation handles.
protocol SMBConversationDriving: Sendable {
    mutating func connected() -> SMBConversationAction
    mutating func receive(_ bytes: [UInt8]) -> SMBConversationAction
    mutating func connectionClosed() -> SMBConversationAction
    mutating func timedOut() -> SMBConversationAction
    mutating func abandon(reason: String) -> SMBConversationAction
}

extension SMBConversationDriving {
    mutating func apply(_ event: SMBProbe.Event) -> SMBConversationAction {
        switch event {
        case .connected: connected()
        case .received(let bytes): receive(bytes)
        case .closed: connectionClosed()
        case .timedOut: timedOut()
        case .failed(let reason): abandon(reason: reason)
        }
    }
}

extension SMB1Conversation: SMBConversationDriving {}
extension SMB2Conversation: SMBConversationDriving {}

extension SMBProbeResult {
    /// Forgets the outcome of a phase that ended with a refused NetBIOS name, before a retry.
    mutating func resetForRetry(smb1 isSMB1: Bool) {
        if isSMB1 {
            smb1 = .notTested
            nullSession = .notTested
            ipc = .notTested
            ms17010 = .notTested
            doublePulsar = .notTested
        } else {
            smb2 = .notTested
            smb2NullSession = .notTested
            smb2IPC = .notTested
        }
    }
}
