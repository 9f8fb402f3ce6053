// What the host and the guest image must agree on, read from os/contract.json — the file os/build.js reads
// too, so both sides take one set of values. An image states the contract it speaks in its manifest; dlite
// installs, updates to and boots only an image that speaks this one.
import {createRequire} from 'node:module'

interface GuestContract {
  contract: number
  settingsFwCfgName: string
  rootDiskSerial: string
  dataDiskSerial: string
  readinessPortName: string
  guestControlPortName: string
  shareEventsPortName: string
  dockerTlsPort: number
  settingsKeys: string[]
}

// src/guest/ and dist/guest/ are both two levels below the package root
export const GUEST_CONTRACT_VALUES = createRequire(import.meta.url)('../../os/contract.json') as GuestContract

export const GUEST_CONTRACT = GUEST_CONTRACT_VALUES.contract

/** Why an image cannot be used with this dlite, or undefined when it speaks this contract. */
export function imageContractProblem(manifest: {version: string; contract?: number}): string | undefined {
  if (manifest.contract === GUEST_CONTRACT) return undefined
  const speaks = manifest.contract === undefined ? 'states no host/guest contract' : `speaks host/guest contract ${manifest.contract}`
  return `OS image ${manifest.version} ${speaks}, and this dlite speaks ${GUEST_CONTRACT}: settings would not reach the guest as sent. ` +
    'Fix: use an image built for this dlite (`npm run os:build` in a checkout, `sudo dlite os build` otherwise, or the release\'s image), ' +
    'or the dlite release that matches the image'
}
