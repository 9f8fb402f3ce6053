// The host side of the hypervisor: the native addon and what follows from its probe.
export * from './accelerator.js'
export * from './accelerator-facts.js'
export * from './native.js'
