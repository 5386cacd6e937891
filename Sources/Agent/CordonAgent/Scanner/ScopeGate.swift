import CordonShared

/// The single check in front of every connect and every datagram: the address must be in scope.
/// An optional observer sees every target that passed the gate, right before the socket call
/// (tests use it to prove nothing outside the scope is touched).
public struct ScopeGate: Sendable {
    public typealias Observer = @Sendable (IPv4Address, UInt16, TransportProtocol) -> Void

    public let scope: Scope
    let observer: Observer?
    /// Sees every ICMP echo request that passed the gate.
    let echoObserver: (@Sendable (IPv4Address) -> Void)?
    let refusals: RefusalCounter

    public init(scope: Scope, observer: Observer? = nil, echoObserver: (@Sendable (IPv4Address) -> Void)? = nil) {
        self.scope = scope
        self.observer = observer
        self.echoObserver = echoObserver
        self.refusals = RefusalCounter()
    }

    /// True when an ICMP echo request to `address` may go; records it with the echo observer.
    public func admitEcho(_ address: IPv4Address) -> Bool {
        guard scope.contains(address) else {
            refusals.increment()
            return false
        }
        echoObserver?(address)
        return true
    }

    /// True when the probe may go; records it with the observer.
    public func admit(_ address: IPv4Address, port: UInt16, proto: TransportProtocol) -> Bool {
        guard scope.contains(address) else {
            refusals.increment()
            return false
        }
        observer?(address, port, proto)
        return true
    }

    /// Probes refused because their address was out of scope (should stay 0).
    public var refused: Int { refusals.value }
}

import Synchronization

final class RefusalCounter: Sendable {
    private let count = Atomic<Int>(0)
    func increment() { count.add(1, ordering: .relaxed) }
    var value: Int { count.load(ordering: .relaxed) }
}
