export * from './ssh-keys.js'
