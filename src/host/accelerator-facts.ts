// What `dlite doctor` (and anything else that only needs the verdict) asks:
// probe the host through the addon and decide, never throwing.
import {AcceleratorError, chooseAccelerator, type AcceleratorDecision, type AcceleratorName, type AcceleratorRequest} from './accelerator.js'
import {loadNative, NativeAddonError, type LoadNativeOptions, type ProbeOptions, type ProbeResult} from './native.js'

export interface AcceleratorVerdict {
  /** What `start` would use. */
  accelerator: AcceleratorName
  reason: string
  /** Set when the native addon could not be loaded (its message names the fix). */
  addonError?: string
  /** Set when the requested accelerator cannot be used here (`start` would fail with this message). */
  requestError?: string
  decision?: AcceleratorDecision
  probe?: ProbeResult
}

export interface DecideOptions extends LoadNativeOptions {
  probe?: ProbeOptions
  /** The installed OS image's architecture: one other than the host's runs under tcg. */
  guestArch?: string
}

/** Probes the host and decides; on a missing addon the verdict is tcg with addonError set. */
export async function decideAccelerator(requested: AcceleratorRequest = 'auto', options: DecideOptions = {}): Promise<AcceleratorVerdict> {
  let probe: ProbeResult
  try {
    probe = loadNative(options).probe(options.probe)
  } catch (error) {
    if (!(error instanceof NativeAddonError)) throw error
    return {
      accelerator: 'tcg',
      reason: `the hypervisor could not be probed: ${error.message}`,
      addonError: error.message,
    }
  }
  try {
    const decision = chooseAccelerator(probe, requested, options.guestArch)
    return {accelerator: decision.accelerator, reason: decision.reason, decision, probe}
  } catch (error) {
    if (!(error instanceof AcceleratorError)) throw error
    const fallback = chooseAccelerator(probe, 'auto', options.guestArch)
    return {accelerator: fallback.accelerator, reason: fallback.reason, requestError: error.message, decision: fallback, probe}
  }
}
