// Coverage-guided fuzzing of the decoders for what arrives over the network: every request
// body the coordinator decodes (AgentReport, Heartbeat, TaskStatusUpdate, ...), with the
// coordinator's own date window, and the signed task lists an agent verifies (signed here with
// a fixed key so that the fuzzer gets past the signature to the list and its validation).
//
// Built two ways:
// - `scripts/fuzz decoders`: with -sanitize=fuzzer,address and -D FUZZING, through SwiftPM in
//   .build-fuzz/spm (CordonShared needs swift-crypto and swift-certificates, so swiftc alone
//   will not do); libFuzzer's main drives `LLVMFuzzerTestOneInput`.
// - `swift build`: a plain replay tool, `cordon-fuzz-decoders FILE...`, that runs saved inputs
//   (a crash found by the fuzzer, reproduced without sanitizers).
import CordonShared
import Crypto
import Foundation

enum DecoderFuzz {
    /// A fixed signing key: the fuzzer's payloads are signed with it, so verification passes
    /// and the list's decoding and validation are what gets exercised.
    static let key = try! Curve25519.Signing.PrivateKey(rawRepresentation: Data(repeating: 7, count: 32))
    static let agentID = "agt-0123456789abcdef"

    /// The first byte picks the decoder, the rest is its input.
    static func run(_ bytes: [UInt8]) {
        guard let selector = bytes.first else { return }
        let body = Data(bytes.dropFirst())
        switch selector % 10 {
        case 0: decode(AgentReport.self, body) { _ = ReportLimits.violation($0); _ = AgentReport.isValidID($0.id) }
        case 1: decode(Heartbeat.self, body) { _ in }
        case 2: decode(TaskStatusUpdate.self, body) { _ in }
        case 3: decode(LocalRefusal.self, body) { _ in }
        case 4: decode(EnrollRequest.self, body) { _ in }
        case 5: decode(RenewRequest.self, body) { _ in }
        case 6: decode(SegmentScopeRequest.self, body) { _ in }
        case 7: decode(TaskPushRequest.self, body) { request in _ = try? request.file.validate(origin: "fuzz") }
        case 8:
            // A task list as an agent receives it: signature, then the list and its validation.
            guard let signature = try? key.signature(for: body) else { return }
            let signed = SignedTaskList(payload: body, signature: signature)
            // The agent and the clock the list names, so that the checks after them run too.
            let named = try? CordonJSON.decode(TaskList.self, from: body)
            switch signed.verify(key: key.publicKey, agentID: named?.agentID ?? agentID, lastSequence: 0,
                                 now: named?.issuedAt ?? Date(timeIntervalSince1970: 1_800_000_000)) {
            case .success(let list): _ = try? CordonJSON.encode(list)
            case .failure(let refusal): _ = refusal.reason
            }
        default:
            // A task file as an operator writes it (YAML).
            guard let text = String(bytes: body, encoding: .utf8) else { return }
            _ = try? TaskFile.parse(yaml: text, origin: "fuzz")
        }
    }

    /// Decodes as the coordinator does (its date window; the message a rejection would carry).
    static func decode<T: Decodable>(_ type: T.Type, _ data: Data, _ then: (T) -> Void) {
        do {
            then(try CordonJSON.decode(type, from: data, dateWindow: CordonJSON.networkDateWindow))
        } catch {
            _ = CordonJSON.describe(error, body: data)
        }
    }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzDecoders(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    guard let data else { return 0 }
    DecoderFuzz.run(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}

// SwiftPM links an executable with `main` defined as `<product>_main` (so that tests can import
// it), which keeps libFuzzer's own `main` out: this is that function, and it hands over to
// libFuzzer's driver. (Pointer arguments pass the same way under Swift's and C's conventions.)
@_silgen_name("LLVMFuzzerRunDriver")
func LLVMFuzzerRunDriver(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                         _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt) -> CInt

@_cdecl("cordon_fuzz_decoders_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var count = argc
    var vector = argv
    return LLVMFuzzerRunDriver(&count, &vector, fuzzDecoders)
}
#else
@main
struct ReplayDecoders {
    static func main() throws {
        let paths = CommandLine.arguments.dropFirst()
        guard !paths.isEmpty else {
            FileHandle.standardError.write(Data("usage: cordon-fuzz-decoders FILE...  (replays fuzz inputs; see scripts/fuzz)\n".utf8))
            exit(2)
        }
        for path in paths {
            DecoderFuzz.run(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
            print("\(path): ok")
        }
    }
}
#endif
