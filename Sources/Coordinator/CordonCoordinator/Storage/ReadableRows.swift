import Foundation
import GRDB
import Logging

/// Reads that survive a bad row: a row that cannot be decoded (a value stored by an older
/// version, or edited by hand, that no longer reads back, e.g. a date in the year 10000) is
/// skipped and logged instead of failing the whole view for every operator.
enum ReadableRows {
    static let logger = Logger(label: "cordon.storage")

    static func skipped(_ table: String, _ row: Row, _ error: any Error) {
        let key = row["id"].map { "\($0)" } ?? "?"
        logger.error("a row that cannot be read was left out of the view", metadata: [
            "table": "\(table)", "row.id": "\(key)", "error": "\(error)",
        ])
    }
}

extension QueryInterfaceRequest where RowDecoder: FetchableRecord & TableRecord {
    /// The records of this request; rows that do not decode are left out (and logged).
    func fetchReadable(_ db: Database) throws -> [RowDecoder] {
        var records: [RowDecoder] = []
        let rows = try Row.fetchCursor(db, self)
        while let row = try rows.next() {
            do {
                records.append(try RowDecoder(row: row))
            } catch {
                ReadableRows.skipped(RowDecoder.databaseTableName, row, error)
            }
        }
        return records
    }
}
