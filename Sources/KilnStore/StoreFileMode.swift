import Foundation
import KilnCore

/// The store's files hold addresses and unsubscribe tokens: only the owner may read
/// them. SQLite creates its database with mode 0644 and gives the `-wal` and `-shm`
/// files the database's mode, so the database file is created (or tightened) to 0600
/// before SQLite opens it, and the others tightened when they exist.
enum StoreFileMode {
    static let mode: mode_t = 0o600
    static let suffixes = ["", "-wal", "-shm", "-journal"]

    /// Creates `path` empty with mode 0600 if it does not exist; sets 0600 on it and on
    /// its `-wal`, `-shm` and `-journal` files if they do.
    static func prepare(_ path: String) throws(KilnError) {
        guard !path.utf8.contains(0) else {
            throw KilnError(.storeFailure, "the store path contains a NUL byte", location: "store.path")
        }
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, mode)
        guard fd >= 0 else {
            throw KilnError(.storeFailure, "cannot create the store: \(String(cString: strerror(errno)))", location: path)
        }
        defer { close(fd) }
        guard fchmod(fd, mode) == 0 else {
            throw KilnError(.storeFailure, "cannot make the store private (chmod 600): \(String(cString: strerror(errno)))", location: path)
        }
        tighten(path)
    }

    /// Sets 0600 on the store's side files that exist (best effort: one that vanished
    /// between the check and the call is fine).
    static func tighten(_ path: String) {
        for suffix in suffixes.dropFirst() where FileManager.default.fileExists(atPath: path + suffix) {
            _ = chmod(path + suffix, mode)
        }
    }
}
