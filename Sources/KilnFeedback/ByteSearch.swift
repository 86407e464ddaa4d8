import Glibc

extension StringProtocol {
    /// Whether `needle` occurs in this text, comparing UTF-8 bytes (`memchr` to the first
    /// byte, then `memcmp`): at most text × needle length, and fast on binary junk, where
    /// Foundation's `contains` (which compares character clusters) took 10 s a megabyte.
    /// Case-sensitive: callers lowercase first.
    func includes(_ needle: String) -> Bool {
        range(ofBytes: needle) != nil
    }

    /// The UTF-8 offset of the first `needle`, or nil.
    func range(ofBytes needle: String) -> Int? {
        var needle = needle
        return needle.withUTF8 { n -> Int? in
            guard !n.isEmpty else { return 0 }
            let search = { (hay: UnsafeBufferPointer<UInt8>) -> Int? in
                guard hay.count >= n.count, let base = hay.baseAddress else { return nil }
                let first = Int32(n[0])
                var offset = 0
                let last = hay.count - n.count
                while offset <= last, let hit = memchr(base + offset, first, last - offset + 1) {
                    let at = base.distance(to: hit.assumingMemoryBound(to: UInt8.self))
                    if memcmp(base + at, n.baseAddress!, n.count) == 0 { return at }
                    offset = at + 1
                }
                return nil
            }
            if let result = utf8.withContiguousStorageIfAvailable(search) { return result }
            return Array(utf8).withUnsafeBufferPointer(search)
        }
    }

    /// Whether `needle` (lowercase ASCII) occurs in this text, ignoring ASCII case.
    func includesIgnoringASCIICase(_ needle: String) -> Bool {
        String(decoding: utf8.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self).includes(needle)
    }
}
