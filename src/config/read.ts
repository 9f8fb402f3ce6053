// Reading DLITE_HOME/config.json on the fast path: the JSON is checked by the schema compiled ahead of time
// (config-validator.generated.ts), so a command that only reads its config loads neither conf nor ajv.
// Anything the fast path cannot settle (a file from an older schema that needs migrating, or one that fails
// validation and needs conf's exact message) goes through conf in store.ts, loaded only then.
import {existsSync, readFileSync} from 'node:fs'
import {join} from 'node:path'

import {validate} from './config-validator.generated.js'
import {ConfigTooNewError, InvalidConfigError, NotInstalledError} from './errors.js'
import {CONFIG_SCHEMA_VERSION, schemaSemver, type ConfigMigrations, type DliteConfig} from './schema.js'

export const CONFIG_NAME = 'config'
/** Where conf keeps its own bookkeeping (the migrated schema version) inside the file. */
export const INTERNAL_KEY = '__internal__'

export interface SchemaOptions {
  /** Defaults to CONFIG_SCHEMA_VERSION; tests pass other versions to exercise migrations. */
  schemaVersion?: number
  migrations?: ConfigMigrations
}

export function configPath(home: string): string {
  return join(home, `${CONFIG_NAME}.json`)
}

export function isInstalled(home: string): boolean {
  return existsSync(configPath(home))
}

/** The parsed file as a plain object; NotInstalledError / InvalidConfigError say what is wrong. */
export function readConfigDocument(path: string, home: string): Record<string, unknown> {
  let raw: unknown
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new NotInstalledError(home)
    throw new InvalidConfigError(path, (error as Error).message)
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new InvalidConfigError(path, 'not a JSON object')
  return raw as Record<string, unknown>
}

function storedSchemaVersion(raw: Record<string, unknown>): string | undefined {
  const internal = raw[INTERNAL_KEY] as {migrations?: {version?: unknown}} | undefined
  const version = internal?.migrations?.version
  return typeof version === 'string' ? version : undefined
}

/**
 * An old dlite must refuse a file written by a newer one (conf would silently stamp its own version over it).
 * Returns the file's stored schema version.
 */
export function refuseNewerSchema(path: string, raw: Record<string, unknown>, schemaVersion: number): string | undefined {
  const stored = storedSchemaVersion(raw)
  if (stored !== undefined && Number.parseInt(stored, 10) > schemaVersion) throw new ConfigTooNewError(path, stored, schemaVersion)
  return stored
}

/** The config without conf's bookkeeping. */
export function withoutInternal(document: Record<string, unknown>): DliteConfig {
  const {[INTERNAL_KEY]: _internal, ...config} = document
  return config as DliteConfig
}

/** The validated, migrated config; NotInstalledError when the home has none. */
export async function readConfig(home: string, options: SchemaOptions = {}): Promise<DliteConfig> {
  const schemaVersion = options.schemaVersion ?? CONFIG_SCHEMA_VERSION
  const path = configPath(home)
  const raw = readConfigDocument(path, home)
  const stored = refuseNewerSchema(path, raw, schemaVersion)
  if (stored === schemaSemver(schemaVersion) && validate(raw)) return withoutInternal(raw)
  const {readConfigThroughConf} = await import('./store.js')
  return readConfigThroughConf(home, options)
}
