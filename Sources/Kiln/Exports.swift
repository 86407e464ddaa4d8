// One import for an embedding program: `import Kiln` brings the engine and every type
// its API takes or returns (configuration, addresses, drafts and templates, events,
// stored records, feedback reports, the transport protocol, the logger).
@_exported import KilnConfiguration
@_exported import KilnCore
@_exported import KilnDNS
@_exported import KilnFeedback
@_exported import KilnMessage
@_exported import KilnSMTP
@_exported import KilnStore
@_exported import Logging
