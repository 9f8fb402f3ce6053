// dlite-kit: what the dlite CLI and its plugins share, one implementation each. Import a part by its subpath
// (`dlite-kit/exec`) to load only that part; this index is every part at once.
export * from './atomic-write.js'
export * from './command.js'
export * from './daemon-log.js'
export * from './errors.js'
export * from './exec.js'
export * from './ipv4.js'
export * from './load-dlite.js'
export * from './no-follow.js'
export * from './routes.js'
