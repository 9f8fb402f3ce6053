export * from './sparse-disk.js'
