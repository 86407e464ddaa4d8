/// Eight bytes looked at together in a `UInt64` (SWAR), for the loops that pass over
/// message bodies: each test gives the high bit of exactly the bytes it matches.
enum ByteWords {
    static let ones: UInt64 = 0x0101_0101_0101_0101
    static let highs: UInt64 = 0x8080_8080_8080_8080
    static let lows: UInt64 = 0x7F7F_7F7F_7F7F_7F7F

    /// The high bit of each zero byte of `x`.
    @inline(__always) static func zeroBytes(_ x: UInt64) -> UInt64 {
        ~(((x & lows) &+ lows) | x | lows)
    }

    /// The high bit of each byte of `x` equal to `byte`.
    @inline(__always) static func bytes(_ x: UInt64, equalTo byte: UInt8) -> UInt64 {
        zeroBytes(x ^ (ones &* UInt64(byte)))
    }

    /// True when every byte of `x` is printable ASCII, space to tilde (32...126).
    @inline(__always) static func allPrintable(_ x: UInt64) -> Bool {
        // No high bit; no byte below 32 (subtracting 32 borrows into the high bit only
        // there); no 127.
        x & highs == 0 && (x &- ones &* 32) & ~x & highs == 0 && bytes(x, equalTo: 127) == 0
    }

    /// The word at `offset`, in memory order (byte 0 in the low bits).
    @inline(__always) static func load(_ base: UnsafeRawPointer, _ offset: Int) -> UInt64 {
        UInt64(littleEndian: base.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
    }
}
