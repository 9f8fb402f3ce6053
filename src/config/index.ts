// The VM config of one DLITE_HOME: schema, errors and reading. Addresses derive from `subnet`
// (network/subnet.ts). Writers import './store.js' themselves: it loads conf, which readers never need.
export * from './errors.js'
export * from './read.js'
export * from './schema.js'
