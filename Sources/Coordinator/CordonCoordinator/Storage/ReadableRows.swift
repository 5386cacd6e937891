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

extension FetchableRecord where Self: TableRecord {
    /// The records an SQL query selects; rows that do not decode are left out (and logged).
    static func fetchReadable(_ db: Database, sql: String, arguments: StatementArguments = []) throws -> [Self] {
        try ReadableRows.map(db, sql: sql, arguments: arguments, table: databaseTableName) { try Self(row: $0) }
    }
}

extension ReadableRows {
    /// `transform` of each row an SQL query selects; rows it cannot read are left out (and logged).
    static func map<T>(_ db: Database, sql: String, arguments: StatementArguments, table: String, _ transform: (Row) throws -> T) throws -> [T] {
        var results: [T] = []
        let rows = try Row.fetchCursor(db, sql: sql, arguments: arguments)
        while let row = try rows.next() {
            do {
                results.append(try transform(row))
            } catch {
                skipped(table, row, error)
            }
        }
        return results
    }
}
