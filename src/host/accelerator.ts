// Which accelerator `dlite start` uses, and why, from the native probe's facts.
// Pure: no I/O, so every branch is unit-tested with made-up facts.
import type {ProbeResult} from 'dlite-native'

import {normalizeArch} from '../image/manifest.js'

export type AcceleratorName = 'kvm' | 'hvf' | 'tcg'
export type AcceleratorRequest = 'auto' | AcceleratorName
export const ACCELERATOR_REQUESTS: readonly AcceleratorRequest[] = ['auto', 'kvm', 'hvf', 'tcg']

/** The probe facts the decision reads (a full ProbeResult fits). */
export interface AcceleratorFacts {
  platform: ProbeResult['platform'] | NodeJS.Platform
  /** The host's CPU architecture (x64, arm64); unknown when absent. */
  arch?: ProbeResult['arch'] | NodeJS.Architecture
  accelerators: {
    kvm: {present: boolean; usable: boolean; reason: string} | null
    hvf: {present: boolean; usable: boolean; reason: string} | null
  }
}

export interface HardwareAccelerator {
  name: 'kvm' | 'hvf'
  present: boolean
  usable: boolean
  reason: string
}

export interface AcceleratorDecision {
  /** What QEMU gets as -accel. */
  accelerator: AcceleratorName
  requested: AcceleratorRequest
  /** Why, for a user. */
  reason: string
  /** The platform has a hardware accelerator but it could not be used, so tcg was chosen. */
  fallback: boolean
  /** The platform's hardware accelerator as probed (kvm on Linux, hvf on macOS), or null. */
  hardware: HardwareAccelerator | null
}

export type AcceleratorErrorCode = 'DLITE_ACCEL_INVALID' | 'DLITE_ACCEL_WRONG_PLATFORM' | 'DLITE_ACCEL_UNAVAILABLE'

export class AcceleratorError extends Error {
  readonly code: AcceleratorErrorCode
  /** 2 for a bad value (usage), 1 when the host cannot do what was asked. */
  readonly exitCode: 1 | 2

  constructor(code: AcceleratorErrorCode, message: string) {
    super(message)
    this.name = 'AcceleratorError'
    this.code = code
    this.exitCode = code === 'DLITE_ACCEL_UNAVAILABLE' ? 1 : 2
  }
}

/** Validates a user's --accel value (case-insensitive; empty means auto). */
export function parseAcceleratorRequest(value: string | undefined | null): AcceleratorRequest {
  const v = (value ?? '').trim().toLowerCase()
  if (v === '') return 'auto'
  if ((ACCELERATOR_REQUESTS as readonly string[]).includes(v)) return v as AcceleratorRequest
  throw new AcceleratorError(
    'DLITE_ACCEL_INVALID',
    `Unknown accelerator "${value}": use one of ${ACCELERATOR_REQUESTS.join(', ')}.`,
  )
}

const HARDWARE_BY_PLATFORM: Partial<Record<string, 'kvm' | 'hvf'>> = {linux: 'kvm', darwin: 'hvf'}
const PLATFORM_OF: Record<'kvm' | 'hvf', string> = {kvm: 'Linux', hvf: 'macOS'}

function hardwareOf(facts: AcceleratorFacts): HardwareAccelerator | null {
  const name = HARDWARE_BY_PLATFORM[facts.platform]
  if (!name) return null
  const probed = facts.accelerators[name]
  if (!probed) {
    return {name, present: false, usable: false, reason: `${name} was not probed on this host`}
  }
  return {name, present: probed.present, usable: probed.usable, reason: probed.reason}
}

/** kvm and hvf run guests of the host's own architecture only: an image for another one is emulated (tcg). */
function forGuest(hardware: HardwareAccelerator | null, facts: AcceleratorFacts, guestArch: string | undefined): HardwareAccelerator | null {
  if (!hardware?.usable || !guestArch || !facts.arch || facts.arch === 'unknown') return hardware
  const host = normalizeArch(facts.arch)
  const guest = normalizeArch(guestArch)
  if (host === guest) return hardware
  return {...hardware, usable: false, reason: `${hardware.name} runs only guests of the host's own architecture (${host}), and the OS image is for ${guest}`}
}

function sentence(text: string): string {
  const t = text.trim()
  return /[.!?]$/.test(t) ? t : `${t}.`
}

/**
 * Chooses the accelerator for `start`: the platform's hardware accelerator
 * (kvm on Linux, hvf on macOS) when it is usable, else tcg. A request for a
 * specific hardware accelerator that this host cannot use is an error that
 * says why; `tcg` is always honoured. `guestArch` is the OS image's: one for
 * another architecture than the host's runs under tcg.
 */
export function chooseAccelerator(facts: AcceleratorFacts, requested: AcceleratorRequest = 'auto', guestArch?: string): AcceleratorDecision {
  const hardware = forGuest(hardwareOf(facts), facts, guestArch)

  if (requested === 'tcg') {
    const hint = hardware?.usable ? ` ${hardware.name} is usable on this host: use --accel auto for hardware speed.` : ''
    return {
      accelerator: 'tcg',
      requested,
      reason: `tcg (software emulation) was requested.${hint}`,
      fallback: false,
      hardware,
    }
  }

  if (requested === 'kvm' || requested === 'hvf') {
    if (!hardware || hardware.name !== requested) {
      const alternative = hardware ? `${hardware.name}, auto or tcg` : 'auto or tcg'
      throw new AcceleratorError(
        'DLITE_ACCEL_WRONG_PLATFORM',
        `${requested} is only available on ${PLATFORM_OF[requested]}; this host runs ${facts.platform}. Use --accel ${alternative}.`,
      )
    }
    if (!hardware.usable) {
      throw new AcceleratorError(
        'DLITE_ACCEL_UNAVAILABLE',
        `${requested} was requested but cannot be used: ${sentence(hardware.reason)} Use --accel auto (or tcg) to run with software emulation.`,
      )
    }
    return {accelerator: requested, requested, reason: sentence(hardware.reason), fallback: false, hardware}
  }

  // auto
  if (!hardware) {
    return {
      accelerator: 'tcg',
      requested,
      reason: `dlite knows no hardware accelerator for ${facts.platform}.`,
      fallback: false,
      hardware,
    }
  }
  if (hardware.usable) {
    return {accelerator: hardware.name, requested, reason: sentence(hardware.reason), fallback: false, hardware}
  }
  // The probe's reason says what is wrong with kvm/hvf in full.
  return {accelerator: 'tcg', requested, reason: sentence(hardware.reason), fallback: true, hardware}
}
