import Glibc
import KilnCore

/// An exclusive advisory lock (`flock`) on `<store>.deliver.lock`, held by the one engine
/// that delivers from a store. Whoever holds it knows that no other deliverer is alive,
/// so every leased message is its own to return to the queue (after a crash, at once,
/// not after the lease expiry). The kernel releases it when the process dies.
public final class DeliveryLock: Sendable {
    private let descriptor: Int32
    public let path: String

    /// Takes the lock, or throws when another process holds it.
    public init(storePath: String) throws(KilnError) {
        path = storePath + ".deliver.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw KilnError(.storeFailure, "cannot open the delivery lock: \(String(cString: strerror(errno)))", location: path)
        }
        _ = fchmod(fd, 0o600)  // a lock file left by an older version may be 0644
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw KilnError(.deliveryLockHeld, "another kiln engine is already delivering from this store", location: storePath)
        }
        descriptor = fd
    }

    deinit {
        flock(descriptor, LOCK_UN)
        close(descriptor)
    }
}
