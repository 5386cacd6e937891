import CompressNIO
import Foundation
import NIOCore

/// gzip request bodies (`Content-Encoding: gzip`): the agent compresses its reports when the
/// coordinator says it accepts them; the coordinator inflates them with a bound.
public enum BodyEncoding {
    public static let gzip = "gzip"
    /// Bodies smaller than this are sent as they are (the gzip header would not pay for itself).
    public static let minimumToCompress = 1024

    public enum InflateError: Error, Equatable {
        /// It inflates to more than the limit (a decompression bomb, or simply too large).
        case tooLarge
        /// Not a complete gzip stream.
        case corrupt
    }

    public static func compress(_ data: Data) throws -> Data {
        var buffer = ByteBuffer(bytes: data)
        let compressed = try buffer.compress(with: .gzip())
        return Data(buffer: compressed)
    }

    /// Inflates `compressed` to at most `limit` bytes; beyond that it stops and throws
    /// `tooLarge` without allocating more than the limit.
    public static func inflate(_ compressed: ByteBuffer, limit: Int) throws(InflateError) -> ByteBuffer {
        var input = compressed
        let inflated: ByteBuffer
        do {
            inflated = try input.decompress(with: .gzip(), maxSize: limit + 1)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw .tooLarge
        } catch {
            throw .corrupt
        }
        guard inflated.readableBytes <= limit else { throw .tooLarge }
        // zlib stops where the input stops: a cut-off stream would inflate to the part that
        // came. A whole one ends in ISIZE, the inflated length mod 2^32 (RFC 1952), which must
        // match (this also refuses a stream of several members, which would be read as its first).
        guard compressed.readableBytes >= 18,
              let isize = compressed.getInteger(at: compressed.readerIndex + compressed.readableBytes - 4, endianness: .little, as: UInt32.self),
              isize == UInt32(truncatingIfNeeded: inflated.readableBytes) else { throw .corrupt }
        return inflated
    }
}
