export * from './definitions.js'
export {detectServiceManager, LAUNCHD_DAEMON_DIR, realServiceHostFacts, serviceManager, SYSTEMD_UNIT_DIR} from './manager.js'
export type {ServiceHostFacts, ServiceManager, ServiceManagerKind, ServiceManagerOptions} from './manager.js'
export {homeService, registeredService} from './for-home.js'
