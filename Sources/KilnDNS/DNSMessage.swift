import KilnCore

/// A DNS message (RFC 1035 §4): what Kiln's resolver sends and parses, and what the test
/// suite's loopback DNS server answers. Pure: bytes in, values out.
///
/// | record | RDATA as parsed | source |
/// |---|---|---|
/// | A (1) | dotted quad | RFC 1035 §3.4.1 |
/// | NS (2), CNAME (5), PTR (12) | a domain name | RFC 1035 §3.3 |
/// | SOA (6) | its MINIMUM field (the negative-caching TTL) | RFC 1035 §3.3.13, RFC 2308 §4 |
/// | MX (15) | preference, exchange (`.` for a null MX) | RFC 1035 §3.3.9, RFC 7505 |
/// | TXT (16) | its character-strings | RFC 1035 §3.3.14 |
/// | AAAA (28) | RFC 5952 text | RFC 3596 |
public struct DNSMessage: Sendable, Hashable {
    public struct RecordType: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
        public var rawValue: UInt16
        public init(rawValue: UInt16) { self.rawValue = rawValue }
        public static let a = RecordType(rawValue: 1)
        public static let ns = RecordType(rawValue: 2)
        public static let cname = RecordType(rawValue: 5)
        public static let soa = RecordType(rawValue: 6)
        public static let ptr = RecordType(rawValue: 12)
        public static let mx = RecordType(rawValue: 15)
        public static let txt = RecordType(rawValue: 16)
        public static let aaaa = RecordType(rawValue: 28)
        public var description: String {
            [1: "A", 2: "NS", 5: "CNAME", 6: "SOA", 12: "PTR", 15: "MX", 16: "TXT", 28: "AAAA"][rawValue] ?? "TYPE\(rawValue)"
        }
    }

    /// RCODE (RFC 1035 §4.1.1): 0 no error, 2 server failure, 3 name error (NXDOMAIN).
    public struct ResponseCode: RawRepresentable, Sendable, Hashable {
        public var rawValue: UInt8
        public init(rawValue: UInt8) { self.rawValue = rawValue }
        public static let noError = ResponseCode(rawValue: 0)
        public static let formatError = ResponseCode(rawValue: 1)
        public static let serverFailure = ResponseCode(rawValue: 2)
        public static let nameError = ResponseCode(rawValue: 3)
        public static let refused = ResponseCode(rawValue: 5)
    }

    public enum RecordData: Sendable, Hashable {
        case address(String)
        case name(String)
        case mx(preference: UInt16, exchange: String)
        case text([String])
        case soa(minimum: UInt32)
        case other([UInt8])
    }

    public struct Question: Sendable, Hashable {
        public var name: String
        public var type: RecordType
        public init(name: String, type: RecordType) {
            self.name = name
            self.type = type
        }
    }

    public struct Record: Sendable, Hashable {
        /// Lower-case, without the trailing dot.
        public var name: String
        public var type: RecordType
        /// Seconds.
        public var ttl: UInt32
        public var data: RecordData
        public init(name: String, type: RecordType, ttl: UInt32, data: RecordData) {
            self.name = DNSMessage.normalized(name)
            self.type = type
            self.ttl = ttl
            self.data = data
        }
    }

    public var id: UInt16
    public var isResponse: Bool
    public var isTruncated: Bool
    public var recursionDesired: Bool
    public var responseCode: ResponseCode
    public var questions: [Question]
    public var answers: [Record]
    public var authority: [Record]
    public var additional: [Record]

    public init(id: UInt16, isResponse: Bool = false, isTruncated: Bool = false, recursionDesired: Bool = true, responseCode: ResponseCode = .noError,
                questions: [Question], answers: [Record] = [], authority: [Record] = [], additional: [Record] = []) {
        self.id = id
        self.isResponse = isResponse
        self.isTruncated = isTruncated
        self.recursionDesired = recursionDesired
        self.responseCode = responseCode
        self.questions = questions
        self.answers = answers
        self.authority = authority
        self.additional = additional
    }

    /// A domain name as compared and cached: lower-case, no trailing dot, an
    /// internationalized name in A-label form (`IDNA.asciiDomain`).
    public static func normalized(_ name: String) -> String {
        let name = name.hasSuffix(".") ? String(name.dropLast()) : name
        return name.utf8.allSatisfy({ $0 < 0x80 }) ? name.lowercased() : IDNA.asciiDomainOrSame(name)
    }
}

/// Why bytes are not a DNS message.
public struct DNSFormatError: Error, Sendable, Hashable, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}

// MARK: Encoding

extension DNSMessage {
    /// The wire form (no name compression). Throws for a name or text that does not fit.
    public func encoded() throws(DNSFormatError) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(512)
        Self.put16(id, &out)
        var flags: UInt16 = 0
        if isResponse { flags |= 0x8000 | 0x0080 }  // QR, and RA on answers
        if isTruncated { flags |= 0x0200 }
        if recursionDesired { flags |= 0x0100 }
        flags |= UInt16(responseCode.rawValue & 0x0F)
        Self.put16(flags, &out)
        for count in [questions.count, answers.count, authority.count, additional.count] { Self.put16(UInt16(clamping: count), &out) }
        for question in questions {
            try Self.putName(question.name, &out)
            Self.put16(question.type.rawValue, &out)
            Self.put16(1, &out)
        }
        for record in answers + authority + additional {
            try Self.putName(record.name, &out)
            Self.put16(record.type.rawValue, &out)
            Self.put16(1, &out)
            Self.put16(UInt16(record.ttl >> 16), &out)
            Self.put16(UInt16(record.ttl & 0xFFFF), &out)
            var data: [UInt8] = []
            switch record.data {
            case .address(let text):
                guard let bytes = IPAddressBytes.parse(text) else { throw DNSFormatError("'\(text)' is not an IP address") }
                data = bytes
            case .name(let name):
                try Self.putName(name, &data)
            case .mx(let preference, let exchange):
                Self.put16(preference, &data)
                try Self.putName(exchange, &data)
            case .text(let strings):
                for string in strings {
                    let bytes = Array(string.utf8)
                    guard bytes.count <= 255 else { throw DNSFormatError("a TXT string is longer than 255 bytes") }
                    data.append(UInt8(bytes.count))
                    data += bytes
                }
            case .soa(let minimum):
                try Self.putName("ns.invalid", &data)
                try Self.putName("hostmaster.invalid", &data)
                for value in [UInt32(1), 3600, 600, 86400, minimum] {
                    Self.put16(UInt16(value >> 16), &data)
                    Self.put16(UInt16(value & 0xFFFF), &data)
                }
            case .other(let bytes):
                data = bytes
            }
            guard data.count <= 0xFFFF else { throw DNSFormatError("record data too long") }
            Self.put16(UInt16(data.count), &out)
            out += data
        }
        return out
    }

    static func put16(_ value: UInt16, _ out: inout [UInt8]) {
        out.append(UInt8(value >> 8))
        out.append(UInt8(value & 0xFF))
    }

    static func putName(_ name: String, _ out: inout [UInt8]) throws(DNSFormatError) {
        let trimmed = normalized(name)
        var total = 1
        if !trimmed.isEmpty {
            for label in trimmed.split(separator: ".", omittingEmptySubsequences: false) {
                let bytes = Array(label.utf8)
                guard !bytes.isEmpty, bytes.count <= 63 else { throw DNSFormatError("'\(name)' has an empty or over-long label") }
                total += bytes.count + 1
                out.append(UInt8(bytes.count))
                out += bytes
            }
        }
        guard total <= 255 else { throw DNSFormatError("'\(name)' is longer than 255 bytes") }
        out.append(0)
    }
}

// MARK: Decoding

extension DNSMessage {
    /// Parses a message; compression pointers are followed (never in a loop).
    public init(parsing bytes: [UInt8]) throws(DNSFormatError) {
        var reader = Reader(bytes: bytes)
        id = try reader.u16()
        let flags = try reader.u16()
        isResponse = flags & 0x8000 != 0
        isTruncated = flags & 0x0200 != 0
        recursionDesired = flags & 0x0100 != 0
        responseCode = ResponseCode(rawValue: UInt8(flags & 0x0F))
        let counts = [try reader.u16(), try reader.u16(), try reader.u16(), try reader.u16()]
        questions = []
        for _ in 0..<counts[0] {
            let name = try reader.name()
            let type = RecordType(rawValue: try reader.u16())
            _ = try reader.u16()
            questions.append(Question(name: name, type: type))
        }
        var sections: [[Record]] = [[], [], []]
        for section in 0..<3 {
            for _ in 0..<counts[section + 1] { sections[section].append(try reader.record()) }
        }
        answers = sections[0]
        authority = sections[1]
        additional = sections[2]
    }

    struct Reader {
        let bytes: [UInt8]
        var offset = 0

        mutating func u8() throws(DNSFormatError) -> UInt8 {
            guard offset < bytes.count else { throw DNSFormatError("message ends early") }
            defer { offset += 1 }
            return bytes[offset]
        }

        mutating func u16() throws(DNSFormatError) -> UInt16 { UInt16(try u8()) << 8 | UInt16(try u8()) }

        mutating func u32() throws(DNSFormatError) -> UInt32 { UInt32(try u16()) << 16 | UInt32(try u16()) }

        mutating func take(_ count: Int) throws(DNSFormatError) -> ArraySlice<UInt8> {
            guard count >= 0, offset + count <= bytes.count else { throw DNSFormatError("message ends early") }
            defer { offset += count }
            return bytes[offset..<offset + count]
        }

        /// A name at the current offset; pointers only go backwards, so they cannot loop.
        mutating func name() throws(DNSFormatError) -> String {
            var labels: [String] = []
            var position = offset
            var jumped = false
            var length = 0
            while true {
                guard position < bytes.count else { throw DNSFormatError("name runs past the message") }
                let byte = bytes[position]
                if byte & 0xC0 == 0xC0 {
                    guard position + 1 < bytes.count else { throw DNSFormatError("name runs past the message") }
                    let target = Int(byte & 0x3F) << 8 | Int(bytes[position + 1])
                    guard target < position else { throw DNSFormatError("a compression pointer points forward") }
                    if !jumped { offset = position + 2 }
                    jumped = true
                    position = target
                    continue
                }
                guard byte & 0xC0 == 0 else { throw DNSFormatError("unknown label type") }
                if byte == 0 {
                    if !jumped { offset = position + 1 }
                    break
                }
                let count = Int(byte)
                guard position + 1 + count <= bytes.count else { throw DNSFormatError("label runs past the message") }
                length += count + 1
                guard length <= 255 else { throw DNSFormatError("name longer than 255 bytes") }
                labels.append(String(decoding: bytes[position + 1..<position + 1 + count], as: UTF8.self))
                position += 1 + count
            }
            return labels.joined(separator: ".").lowercased()
        }

        mutating func record() throws(DNSFormatError) -> Record {
            let name = try name()
            let type = RecordType(rawValue: try u16())
            _ = try u16()
            let ttl = try u32()
            let length = Int(try u16())
            let end = offset + length
            guard end <= bytes.count else { throw DNSFormatError("record data runs past the message") }
            let data: RecordData
            switch type {
            case .a where length == 4, .aaaa where length == 16:
                data = .address(IPAddressBytes.format(Array(try take(length))))
            case .ns, .cname, .ptr:
                data = .name(try self.name())
            case .mx:
                let preference = try u16()
                data = .mx(preference: preference, exchange: try self.name())
            case .txt:
                var strings: [String] = []
                while offset < end {
                    let count = Int(try u8())
                    strings.append(String(decoding: try take(count), as: UTF8.self))
                }
                data = .text(strings)
            case .soa:
                _ = try self.name()
                _ = try self.name()
                for _ in 0..<4 { _ = try u32() }
                data = .soa(minimum: try u32())
            default:
                data = .other(Array(try take(length)))
            }
            guard offset == end else { throw DNSFormatError("\(type) record data has the wrong length") }
            return Record(name: name, type: type, ttl: ttl, data: data)
        }
    }
}
