import GRDB
import GRDBSQLite

/// A prepared statement driven through SQLite's C API, for the few loops that run a
/// statement millions of times. Text and blobs are copied by SQLite at bind time.
struct RawStatement {
    let statement: SQLiteStatement
    let db: Database

    init(_ statement: SQLiteStatement, db: Database) {
        self.statement = statement
        self.db = db
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func reset() {
        sqlite3_reset(statement)
    }

    func bind(_ index: Int32, _ value: Int64) {
        sqlite3_bind_int64(statement, index, value)
    }

    func bind(_ index: Int32, _ value: String) {
        var value = value
        value.withUTF8 { text in
            _ = text.withMemoryRebound(to: CChar.self) { sqlite3_bind_text(statement, index, $0.baseAddress, Int32(text.count), Self.transient) }
        }
    }

    func bind(_ index: Int32, bytes: [UInt8]) {
        _ = bytes.withUnsafeBytes { sqlite3_bind_blob(statement, index, $0.baseAddress, Int32($0.count), Self.transient) }
    }

    /// Runs one step: true when it produced a row, false when it is done.
    func step() throws -> Bool {
        switch sqlite3_step(statement) {
        case SQLITE_ROW: return true
        case SQLITE_DONE: return false
        case let code:
            throw DatabaseError(resultCode: ResultCode(rawValue: code), message: String(cString: sqlite3_errmsg(db.sqliteConnection)))
        }
    }
}
