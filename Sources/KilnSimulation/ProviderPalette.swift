/// The colour of each mailbox provider in the simulator's charts: fixed per provider id,
/// so that gmail is the same blue in every chart whatever the other providers are.
///
/// | id        | colour    | source                                   |
/// |-----------|-----------|------------------------------------------|
/// | gmail     | `#4285F4` | Google's brand blue                      |
/// | microsoft | `#00A4EF` | the blue (cyan) square of Microsoft's logo |
/// | yahoo     | `#7E1FFF` | Yahoo's brand purple                     |
/// | apple     | `#555555` | the grey of Apple's logo, darkened to read on white |
/// | other     | `#F4B400` | amber: the rest of the list, no brand    |
///
/// Any other id takes a colour from `fallback`, chosen by the FNV-1a hash of its UTF-8
/// bytes: the same in every run and every chart (Swift's `Hasher` is seeded per process,
/// so it would not be).
public enum ProviderPalette {
    public static let known: [(id: String, color: String)] = [
        ("gmail", "#4285F4"),
        ("microsoft", "#00A4EF"),
        ("yahoo", "#7E1FFF"),
        ("apple", "#555555"),
        ("other", "#F4B400"),
    ]

    /// Colours for ids not in `known`: none of them is a known provider's, the throttle
    /// colour or the block colour of the charts.
    public static let fallback = ["#0F9D58", "#E91E63", "#795548", "#009688", "#3F51B5", "#8BC34A", "#FF7043", "#00838F"]

    /// The colour of provider `id` (`#RRGGBB`).
    public static func color(for id: String) -> String {
        if let row = known.first(where: { $0.id == id }) { return row.color }
        return fallback[Int(fnv1a(id) % UInt64(fallback.count))]
    }

    /// `ids` in the table's order (gmail first), then the unknown ones by name: the order in
    /// which the charts stack and list providers.
    public static func ordered(_ ids: some Sequence<String>) -> [String] {
        let rank = Dictionary(uniqueKeysWithValues: known.enumerated().map { ($0.element.id, $0.offset) })
        return Set(ids).sorted { (rank[$0] ?? known.count, $0) < (rank[$1] ?? known.count, $1) }
    }

    static func fnv1a(_ text: String) -> UInt64 {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 {
            hash ^= UInt64(byte)
            hash = hash &* 0x100_0000_01b3
        }
        return hash
    }
}
