import GRDB

// The queries on the agents' request path (authentication, heartbeats, long-polls, task
// status, report ingest) go through statements GRDB prepares once per connection and keeps.
// GRDB's query interface (`fetchOne(db, key:)`, `filter(...).fetchAll(db)`) and
// `fetchOne(db, sql:)` compile their SQL again on every call: under a segment push to 10,000
// agents that compilation was a quarter of the coordinator's CPU (benchmarks/push-latency.sh
// under perf). Record inserts and updates were already cached by GRDB.

extension FetchableRecord where Self: TableRecord {
    /// The record whose `column` equals `value` (a primary or unique key), through a cached
    /// statement.
    static func cachedFetchOne(_ db: Database, where column: String, is value: some DatabaseValueConvertible) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: "SELECT * FROM \"\(databaseTableName)\" WHERE \"\(column)\" = ?"), arguments: [value])
    }

    static func cachedFetchOne(_ db: Database, sql: String, arguments: StatementArguments) throws -> Self? {
        try fetchOne(db.cachedStatement(sql: sql), arguments: arguments)
    }

    static func cachedFetchAll(_ db: Database, sql: String, arguments: StatementArguments) throws -> [Self] {
        try fetchAll(db.cachedStatement(sql: sql), arguments: arguments)
    }
}

extension Database {
    /// Runs one statement through the statement cache.
    func cachedExecute(sql: String, arguments: StatementArguments) throws {
        try cachedStatement(sql: sql).execute(arguments: arguments)
    }
}
