import KilnPostgres

extension SendEngine {
    /// The statements this engine's store has sent to PostgreSQL since it opened (each one
    /// round trip; a transaction adds its BEGIN and COMMIT), or nil on SQLite: the CLI's
    /// `kiln_store_round_trips_total`, how many round trips a delivered message costs
    /// (scripts/cluster-scale.sh).
    public var storeRoundTrips: Int? { (store as? PostgresStore)?.roundTrips }
}
