// Loads dlite-native, the addon that probes the hypervisor and opens tap
// devices. Commands that need it call loadNative(); when the addon is
// missing or broken the error says so and names the fix.
import {createRequire} from 'node:module'

import type * as DliteNative from 'dlite-native'

export type NativeAddon = typeof DliteNative
export type {
  AcceleratorProbe,
  HvfProbe,
  KvmProbe,
  KvmSelfTest,
  NativeErrnoError,
  OpenTapOptions,
  ProbeOptions,
  ProbeResult,
  TapHandle,
} from 'dlite-native'

export type NativeAddonErrorCode = 'DLITE_NATIVE_MISSING' | 'DLITE_NATIVE_LOAD_FAILED'

/** The command that rebuilds the addon, and the one that sets a machine up from scratch. */
export const NATIVE_FIX =
  'Run `npm rebuild dlite-native` in the dlite directory (needs python3, make and g++), ' +
  'or run the setup script (scripts/setup.sh) as root.'

export class NativeAddonError extends Error {
  readonly code: NativeAddonErrorCode
  readonly fix = NATIVE_FIX
  /** Exit code for the CLI: a runtime failure. */
  readonly exitCode = 1

  constructor(code: NativeAddonErrorCode, detail: string, options?: {cause?: unknown}) {
    super(
      (code === 'DLITE_NATIVE_MISSING'
        ? `The native addon dlite-native is missing: ${detail}. `
        : `The native addon dlite-native failed to load: ${detail}. `) + NATIVE_FIX,
      options,
    )
    this.name = 'NativeAddonError'
    this.code = code
  }
}

export interface LoadNativeOptions {
  /** Loads a module by id; defaults to Node's require. For tests. */
  require?: (id: string) => unknown
  /** Module id to load (default 'dlite-native'). */
  moduleId?: string
  /** Ignore the cached module. */
  reload?: boolean
}

let cached: NativeAddon | undefined

function errorCode(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && 'code' in error ? String((error as {code: unknown}).code) : undefined
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}

/** Where the addon's loader is: a worker thread loads it from there (helper/client.ts). */
export function nativeModulePath(): string {
  return createRequire(import.meta.url).resolve('dlite-native')
}

/** Loads (once) and returns the addon, or throws a NativeAddonError naming the fix. */
export function loadNative(options: LoadNativeOptions = {}): NativeAddon {
  if (cached && !options.reload && !options.require) return cached
  const moduleId = options.moduleId ?? 'dlite-native'
  const load = options.require ?? createRequire(import.meta.url)
  let mod: unknown
  try {
    mod = load(moduleId)
  } catch (error) {
    const code = errorCode(error)
    if (code === 'MODULE_NOT_FOUND' && errorMessage(error).includes(`'${moduleId}'`)) {
      throw new NativeAddonError('DLITE_NATIVE_MISSING', `the package ${moduleId} is not installed`, {cause: error})
    }
    if (code === 'DLITE_NATIVE_MISSING') {
      throw new NativeAddonError('DLITE_NATIVE_MISSING', 'it was never built (or its build failed)', {cause: error})
    }
    // DLITE_NATIVE_LOAD_FAILED from the package's loader (e.g. built for another Node ABI), or anything else.
    const detail = errorMessage(error).split('. Rebuild')[0]
    throw new NativeAddonError('DLITE_NATIVE_LOAD_FAILED', detail, {cause: error})
  }
  const addon = mod as Partial<NativeAddon> | null
  if (!addon || (['probe', 'openTap', 'closeFd', 'flock'] as const).some((name) => typeof addon[name] !== 'function')) {
    throw new NativeAddonError('DLITE_NATIVE_LOAD_FAILED', 'it does not export probe, openTap, closeFd and flock (an outdated build?)')
  }
  if (!options.require) cached = addon as NativeAddon
  return addon as NativeAddon
}
