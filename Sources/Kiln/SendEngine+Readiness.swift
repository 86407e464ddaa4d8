import KilnCore

extension SendEngine {
    /// Throws unless a delivery run could start now: the unsubscribe secrets, the
    /// return-path secret, the DKIM keys and the shared relay's credentials can all be
    /// read, as a run reads them. `submit` calls it before storing anything, so that a
    /// message is never accepted that no run could send. Succeeds once per engine (later
    /// calls are free); a failure is checked again next time.
    public func checkReadyToSend() throws(KilnError) {
        _ = try loadedSecrets(for: .delivery)
    }
}
