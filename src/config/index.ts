// The VM config of one DLITE_HOME: schema, storage, derived addresses.
export * from './schema.js'
export * from './store.js'
export * from './network.js'
export {homeId} from '../network/names.js'
