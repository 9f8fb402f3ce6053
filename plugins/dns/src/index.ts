// dlite-dns as a library: the naming rules and the request protocol, for tools that want to reuse them.
// The plugin itself is loaded by oclif through its commands and hooks (package.json `oclif`).
export {containerEntry, imageName, type ContainerEntry, type ContainerFacts} from './container-names.js'
export {labelsMatch, lookupName, reverseLookup, servedNames, type LookupResult, type ServedName, type Zone} from './name-lookup.js'
export type {DnsRequest, NamesReply, ServiceStatus} from './protocol.js'
export {DEFAULT_SETTINGS, normalizeDomain, type DnsSettings} from './settings.js'
