// The VM config of one DLITE_HOME: schema and storage. Addresses derive from `subnet` (network/subnet.ts).
export * from './schema.js'
export * from './store.js'
