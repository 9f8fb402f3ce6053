// The OS image store of one home: manifests, verified fetching, installed versions.
export * from './manifest.js'
export * from './source.js'
export * from './store.js'
export * from './install.js'
