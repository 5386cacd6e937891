import Foundation

/// Parses `/var/log/btmp`: glibc `struct utmp` records of 384 bytes (x86_64 and other 64-bit
/// glibc targets with 32-bit `ut_tv`), little-endian integers:
///
/// | offset | field |
/// |---|---|
/// | 0 | `ut_type` (int16, padded to 4) |
/// | 4 | `ut_pid` (int32) |
/// | 8 | `ut_line[32]` |
/// | 40 | `ut_id[4]` |
/// | 44 | `ut_user[32]` |
/// | 76 | `ut_host[256]` |
/// | 332 | `ut_exit` (2 x int16) |
/// | 336 | `ut_session` (int32) |
/// | 340 | `ut_tv` (tv_sec, tv_usec: int32 each) |
/// | 348 | `ut_addr_v6[4]` (network byte order) |
/// | 364 | unused[20] |
///
/// A record whose type or time is out of range, or whose user is not text, is skipped and
/// counted; a truncated trailing record is ignored (and counted).
enum BtmpParser {
    static let recordSize = 384

    struct Record: Equatable {
        var type: Int16
        var pid: Int32
        var line: String
        var user: String
        var host: String
        var date: Date
        /// The address from `ut_addr_v6`, `nil` when all zero.
        var address: String?
    }

    static func parse(_ data: Data) -> (records: [Record], skipped: Int, trailingBytes: Int) {
        let bytes = [UInt8](data)
        var records: [Record] = []
        var skipped = 0
        var offset = 0
        while offset + recordSize <= bytes.count {
            if let record = parseRecord(bytes[offset..<(offset + recordSize)]) {
                records.append(record)
            } else {
                skipped += 1
            }
            offset += recordSize
        }
        let trailing = bytes.count - offset
        return (records, skipped + (trailing > 0 ? 1 : 0), trailing)
    }

    private static func parseRecord(_ record: ArraySlice<UInt8>) -> Record? {
        let base = record.startIndex
        func int32(_ at: Int) -> Int32 {
            let b = record[(base + at)..<(base + at + 4)].map(UInt32.init)
            return Int32(bitPattern: b[0] | b[1] << 8 | b[2] << 16 | b[3] << 24)
        }
        func text(_ at: Int, _ length: Int) -> String? {
            let field = record[(base + at)..<(base + at + length)].prefix(while: { $0 != 0 })
            guard let value = String(validating: field, as: UTF8.self),
                  value.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F })
            else { return nil }
            return value
        }
        let type = Int16(bitPattern: UInt16(record[base]) | UInt16(record[base + 1]) << 8)
        let seconds = int32(340)
        // ut_type is EMPTY..ACCOUNTING (0...9); a time before 1990 is not a real failed logon.
        guard (0...9).contains(type), seconds > 631_152_000,
              let line = text(8, 32), let user = text(44, 32), let host = text(76, 256)
        else { return nil }
        let address = Array(record[(base + 348)..<(base + 364)])
        var addressText: String?
        if address.contains(where: { $0 != 0 }) {
            addressText = address[4...].allSatisfy({ $0 == 0 })
                ? ProcNetParser.format(Array(address[0..<4]))
                : ProcNetParser.format(address)
        }
        return Record(
            type: type, pid: int32(4), line: line, user: user, host: host,
            date: Date(timeIntervalSince1970: Double(seconds)), address: addressText
        )
    }
}
