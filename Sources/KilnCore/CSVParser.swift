/// An incremental RFC 4180 CSV parser for recipient lists: feed it bytes as they are
/// read, take records as they complete. Memory holds one record at a time. Quoted fields
/// may contain commas and doubled quotes; CRLF and LF both end a record, also inside a
/// quote (a list holds one recipient a line: a quote left open would otherwise swallow
/// the valid rows after it). A malformed record (a quote inside an unquoted field, text
/// after a closing quote, a quote not closed on its line) comes back as an error with its
/// line number, and parsing goes on with the next line. A field that is not valid UTF-8 is decoded with U+FFFD in place of the
/// bad bytes and its index listed in `Record.invalidUTF8Fields`, for the caller to refuse.
public struct CSVParser: Sendable {
    public struct Record: Sendable, Equatable {
        /// The line the record starts on (1-based).
        public var line: Int
        public var fields: [String]
        /// The indices of the fields whose bytes were not valid UTF-8 (empty nearly always).
        public var invalidUTF8Fields: [Int] = []
    }

    public enum Item: Sendable, Equatable {
        case record(Record)
        case malformed(line: Int, reason: String)
    }

    enum State { case fieldStart, unquoted, quoted, quoteInQuoted, skipToLineEnd }

    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var fields: [String] = []
    private var invalidUTF8Fields: [Int] = []
    private var line = 1
    private var recordLine = 1
    private var error: String?
    private var pendingCR = false

    /// The first bytes of the input while they may still be a UTF-8 byte order mark
    /// (nil once decided).
    private var leading: [UInt8]? = []
    static let byteOrderMark: [UInt8] = [0xEF, 0xBB, 0xBF]

    public init() {}

    /// Parses `bytes`, calling `emit` for every record or error completed. A UTF-8 byte
    /// order mark at the start of the input (Excel writes one) is skipped.
    public mutating func feed(_ bytes: some Sequence<UInt8>, _ emit: (Item) throws -> Void) rethrows {
        if let head = leading {
            let combined = head + Array(bytes)
            if combined.count < 3 && Self.byteOrderMark.starts(with: combined) {
                leading = combined
                return
            }
            leading = nil
            let body = Array(combined.starts(with: Self.byteOrderMark) ? combined.dropFirst(3) : combined[...])
            try body.withUnsafeBufferPointer { buffer in try feed(buffer: buffer, emit) }
            return
        }
        if try bytes.withContiguousStorageIfAvailable({ buffer in try feed(buffer: buffer, emit) }) != nil { return }
        try Array(bytes).withUnsafeBufferPointer { buffer in try feed(buffer: buffer, emit) }
    }

    private mutating func feed(buffer bytes: UnsafeBufferPointer<UInt8>, _ emit: (Item) throws -> Void) rethrows {
        for byte in bytes {
            if pendingCR {
                pendingCR = false
                if byte == 10 { continue }  // the LF of a CRLF already handled
            }
            switch state {
            case .fieldStart, .unquoted:
                switch byte {
                case 44:  // ,
                    endField()
                case 13, 10:
                    if byte == 13 { pendingCR = true }
                    try endRecord(emit)
                    line += 1
                    recordLine = line
                case 34 where state == .fieldStart:  // "
                    state = .quoted
                case 34:
                    fail("a quote inside an unquoted field")
                default:
                    field.append(byte)
                    state = .unquoted
                }
            case .quoted:
                if byte == 34 {
                    state = .quoteInQuoted
                } else if byte == 13 || byte == 10 {
                    // A recipient list holds one recipient a line: a quote still open at the
                    // line's end is a broken row, not a field that swallows the next rows.
                    if byte == 13 { pendingCR = true }
                    fail("a quoted field is not closed on its line")
                    try endRecord(emit)
                    line += 1
                    recordLine = line
                } else {
                    field.append(byte)
                }
            case .quoteInQuoted:
                switch byte {
                case 34:
                    field.append(34)
                    state = .quoted
                case 44:
                    endField()
                case 13, 10:
                    if byte == 13 { pendingCR = true }
                    try endRecord(emit)
                    line += 1
                    recordLine = line
                default:
                    fail("text after a closing quote")
                }
            case .skipToLineEnd:
                if byte == 13 || byte == 10 {
                    if byte == 13 { pendingCR = true }
                    try endRecord(emit)
                    line += 1
                    recordLine = line
                }
            }
        }
    }

    /// Ends the input: a last record without a line end, or an unterminated quote.
    public mutating func finish(_ emit: (Item) throws -> Void) rethrows {
        if let head = leading, !head.isEmpty {
            leading = nil
            try head.withUnsafeBufferPointer { buffer in try feed(buffer: buffer, emit) }
        }
        if state == .quoted {
            error = error ?? "a quoted field is not closed on its line"
        }
        if state != .fieldStart || !fields.isEmpty || !field.isEmpty || error != nil {
            try endRecord(emit)
        }
    }

    private mutating func fail(_ reason: String) {
        if error == nil { error = reason }
        state = .skipToLineEnd
    }

    private mutating func endField() {
        if let text = String(validating: field, as: UTF8.self) {
            fields.append(text)
        } else {
            invalidUTF8Fields.append(fields.count)
            fields.append(String(decoding: field, as: UTF8.self))
        }
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
    }

    private mutating func endRecord(_ emit: (Item) throws -> Void) rethrows {
        defer {
            fields.removeAll(keepingCapacity: true)
            field.removeAll(keepingCapacity: true)
            invalidUTF8Fields.removeAll()
            state = .fieldStart
            error = nil
        }
        if let error {
            try emit(.malformed(line: recordLine, reason: error))
            return
        }
        endField()
        // A blank line is no record.
        if fields.count == 1 && fields[0].isEmpty { return }
        try emit(.record(Record(line: recordLine, fields: fields, invalidUTF8Fields: invalidUTF8Fields)))
    }
}
