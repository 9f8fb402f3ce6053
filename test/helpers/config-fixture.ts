// A valid VM config for unit tests that need an installed home.
import type {DliteConfig} from '../../src/config/index.js'

export function sampleConfig(): DliteConfig {
  return {
    cpus: 2,
    memoryGiB: 2,
    diskGiB: 20,
    hostname: 'local.docker',
    mounts: [{path: '/home/user'}],
    sshKey: null,
    extraArgs: ['--log-level', 'debug'],
    osSource: '/srv/os/manifest.json',
    network: 'bridged',
    subnet: '192.168.64.0/24',
    dockerSocket: '/var/run/dlite/docker.sock',
    accel: 'auto',
    image: {current: '1.0.0'},
    createdAt: '2026-11-23T18:50:00.000Z',
  }
}
