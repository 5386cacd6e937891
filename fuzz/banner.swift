// libFuzzer target: the banner of a backdoor / shell / FTP port (bind shells of Blaster and Sasser).
@testable import CordonCodecs

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let bytes = FuzzInput.bytes(data, size)
    let classification = BannerClassifier.classify(bytes)
    // Only the first maxBannerBytes bytes count.
    if bytes.count > BannerClassifier.maxBannerBytes {
        invariant(BannerClassifier.classify(Array(bytes.prefix(BannerClassifier.maxBannerBytes))) == classification,
                  "bytes past maxBannerBytes changed the classification")
    }
    _ = Evidence.text(bytes)
    _ = Evidence.hex(bytes)
    return 0
}
