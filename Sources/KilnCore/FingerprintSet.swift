/// A set of 64-bit fingerprints of strings, for de-duplicating millions of addresses in
/// memory at 8 bytes a slot (open addressing, linear probing, at most 3/4 full).
///
/// Two different strings share a fingerprint with probability about n² / 2⁶⁵ over n
/// strings: about 3 in a million for a 10,000,000-address list.
public struct FingerprintSet: Sendable {
    private var slots: [UInt64]
    private var mask: Int
    public private(set) var count = 0

    /// A set sized for `expected` members without growing.
    public init(expected: Int = 0) {
        var capacity = 1024
        while capacity * 3 / 4 < expected { capacity *= 2 }
        slots = Array(repeating: 0, count: capacity)
        mask = capacity - 1
    }

    /// Slots held (for memory accounting: 8 bytes each).
    public var capacity: Int { slots.count }

    /// Adds `text`; false when it (or a string with the same fingerprint) was there.
    @discardableResult
    public mutating func insert(_ text: String) -> Bool {
        insert(fingerprint: Self.fingerprint(text))
    }

    @discardableResult
    public mutating func insert(fingerprint: UInt64) -> Bool {
        let (index, found) = locate(fingerprint)
        if found { return false }
        slots[index] = Self.stored(fingerprint)
        count += 1
        if count > slots.count * 3 / 4 { grow() }
        return true
    }

    public func contains(_ text: String) -> Bool {
        locate(Self.fingerprint(text)).found
    }

    /// 0 marks an empty slot, so a fingerprint of 0 is kept as 1.
    static func stored(_ fingerprint: UInt64) -> UInt64 { fingerprint == 0 ? 1 : fingerprint }

    /// The slot holding `fingerprint`, or the empty slot where it would go.
    private func locate(_ fingerprint: UInt64) -> (index: Int, found: Bool) {
        let value = Self.stored(fingerprint)
        var index = Int(truncatingIfNeeded: value) & mask
        while slots[index] != 0 {
            if slots[index] == value { return (index, true) }
            index = (index + 1) & mask
        }
        return (index, false)
    }

    private mutating func grow() {
        let old = slots
        slots = Array(repeating: 0, count: old.count * 2)
        mask = slots.count - 1
        count = 0
        for value in old where value != 0 { insert(fingerprint: value) }
    }

    /// A 64-bit fingerprint of the UTF-8 bytes: 8 bytes at a time through MurmurHash3's
    /// 64-bit finaliser, seeded with the length. Stable across runs and machines.
    public static func fingerprint(_ text: String) -> UInt64 {
        var text = text
        return text.withUTF8 { bytes -> UInt64 in
            var hash: UInt64 = 0x243F_6A88_85A3_08D3 ^ UInt64(bytes.count)
            var index = 0
            while index < bytes.count {
                var word: UInt64 = 0
                for offset in 0..<min(8, bytes.count - index) {
                    word |= UInt64(bytes[index + offset]) << (8 * UInt64(offset))
                }
                hash = mix(hash ^ word) &+ 0x9E37_79B9_7F4A_7C15
                index += 8
            }
            return mix(hash)
        }
    }

    static func mix(_ value: UInt64) -> UInt64 {
        var x = value
        x ^= x >> 33
        x &*= 0xFF51_AFD7_ED55_8CCD
        x ^= x >> 33
        x &*= 0xC4CE_B9FE_1A85_EC53
        x ^= x >> 33
        return x
    }
}
