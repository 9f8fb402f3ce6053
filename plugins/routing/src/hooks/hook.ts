import type {Config, Hook} from '@oclif/core'

/** An oclif hook handler for one of dlite's events: the event's payload plus oclif's own `config`. */
export type DliteHook<Payload, Result = void> = (this: Hook.Context, options: Payload & {config: Config}) => Promise<Result>
