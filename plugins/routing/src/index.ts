// dlite-routing: container IPs reachable from the host. The commands and hooks are found by oclif through
// package.json; this entry point exports the pieces other code (and tests) may want.
export {routableNetworks, type RoutableNetwork} from './docker-networks.js'
export {GUEST_CHAIN, guestRuleArgv} from './guest-rules.js'
export {Router, type ApplyResult, type StatusReport} from './router.js'
export {PLUGIN_NAME, readSetting, type RoutingSetting} from './setting.js'
