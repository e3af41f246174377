// The SQLite store is an adapter of the store port: whoever imports it sees the port's types.
@_exported import OKeyStorePort
