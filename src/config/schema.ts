// The shape of DLITE_HOME/config.json: TypeScript type, JSON schema (enforced on every read and write:
// by conf/ajv, and by the same schema compiled ahead of time) and the schema version with its migrations.
import type Conf from 'conf'
import type {Schema} from 'conf'

/**
 * Bump this when the stored shape changes, and add a migration keyed `'<new version>.0.0'` to
 * CONFIG_MIGRATIONS that turns the previous shape into the new one. conf records the last migrated
 * version inside the file (`__internal__.migrations.version`) and runs each newer migration once.
 */
export const CONFIG_SCHEMA_VERSION = 3

export type Accel = 'auto' | 'kvm' | 'hvf' | 'tcg'
export const ACCELS: readonly Accel[] = ['auto', 'kvm', 'hvf', 'tcg']

/**
 * How the VM is networked. `user`: QEMU's user-mode networking, no privileges; the docker API and ssh reach
 * the guest through ports forwarded on 127.0.0.1. `bridged`: a host bridge and tap with NAT, a routable VM
 * (what the routing and DNS plugins need); needs root.
 */
export type NetworkMode = 'user' | 'bridged'
export const NETWORK_MODES: readonly NetworkMode[] = ['user', 'bridged']

export type ImageSelection = {
  /** The OS image version the VM boots. */
  current: string
  /** The version before the last update, kept for rollback. */
  previous?: string
}

// A type alias (not an interface) so it satisfies conf's Record<string, unknown> constraint.
export type DliteConfig = {
  cpus: number
  memoryGiB: number
  diskGiB: number
  hostname: string
  /** Host directories shared into the VM, each at the same path (install's default: the home directory). */
  mounts: Mount[]
  /** The user's own SSH public key to authorize in the guest, or null. */
  sshKey: string | null
  /** Extra dockerd arguments, already split. */
  extraArgs: string[]
  /** Manifest path or URL the image came from; `update` reuses it. */
  osSource: string
  /** user (default for new installs) or bridged (what every install before schema 2 was). */
  network: NetworkMode
  /** The bridged VM network, an aligned private IPv4 CIDR (unused in user mode). */
  subnet: string
  /** Host path of the docker socket dlite exposes. */
  dockerSocket: string
  accel: Accel
  image: ImageSelection
  /** ISO 8601 timestamp of the install. */
  createdAt: string
  /** The user who installed (sudo's invoker): owns the docker context, gets the socket's group. Optional. */
  owner?: ConfigOwner
  /** Whether `dlite start` makes this home's docker context the current one (absent: yes). */
  activateContext?: boolean
  /** Whether the service manager starts the VM at login (user) or boot (bridged); `dlite autostart` sets it. */
  autostart?: boolean
  /** Whether changes the host sees under the shares raise inotify events in the VM (absent: yes). */
  fileEvents?: boolean
  /** Whether `dlite stop` saves the running VM's state for the next start to resume (absent: yes). */
  saveState?: boolean
}

export type ConfigOwner = {uid: number; gid: number; home: string}

/** A host directory shared into the VM at the same path; readOnly: the host refuses the guest's writes. */
export type Mount = {path: string; readOnly?: boolean}

const VERSION_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._+-]*$'

export const CONFIG_SCHEMA: Schema<DliteConfig> = {
  cpus: {type: 'integer', minimum: 1, maximum: 1024},
  memoryGiB: {type: 'integer', minimum: 1},
  diskGiB: {type: 'integer', minimum: 8},
  hostname: {
    type: 'string',
    // the lookahead caps the length at 253 (a maxLength would need ajv's runtime in the generated validator)
    pattern: '^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$',
  },
  // before schema 3 this was `share`, one path (the 3.0.0 migration turns it into a one-item list)
  mounts: {
    type: 'array',
    items: {
      type: 'object',
      properties: {path: {type: 'string', pattern: '^/.'}, readOnly: {type: 'boolean'}},
      required: ['path'],
      additionalProperties: false,
    },
  },
  sshKey: {type: ['string', 'null'], pattern: '^/'},
  extraArgs: {type: 'array', items: {type: 'string'}},
  osSource: {type: 'string', pattern: '\\S'},
  // a config from before schema 2 has no network field: it was bridged (the default fills it on read)
  network: {type: 'string', enum: [...NETWORK_MODES], default: 'bridged'},
  subnet: {type: 'string', pattern: '^[0-9]{1,3}(\\.[0-9]{1,3}){3}/[0-9]{1,2}$'},
  dockerSocket: {type: 'string', pattern: '^/'},
  accel: {type: 'string', enum: [...ACCELS]},
  image: {
    type: 'object',
    properties: {
      current: {type: 'string', pattern: VERSION_PATTERN},
      previous: {type: 'string', pattern: VERSION_PATTERN},
    },
    required: ['current'],
    additionalProperties: false,
  },
  createdAt: {type: 'string', pattern: '^\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}(\\.\\d+)?(Z|[+-]\\d{2}:\\d{2})$'},
  owner: {
    type: 'object',
    properties: {
      uid: {type: 'integer', minimum: 0},
      gid: {type: 'integer', minimum: 0},
      home: {type: 'string', pattern: '^/'},
    },
    required: ['uid', 'gid', 'home'],
    additionalProperties: false,
  },
  activateContext: {type: 'boolean'},
  autostart: {type: 'boolean'},
  fileEvents: {type: 'boolean'},
  saveState: {type: 'boolean'},
}

// conf validates a file before it migrates it: a field a migration adds must be optional to the schema
const OPTIONAL_FIELDS = new Set<string>(['owner', 'network', 'mounts', 'activateContext', 'autostart', 'fileEvents', 'saveState'])
export const CONFIG_REQUIRED = Object.keys(CONFIG_SCHEMA).filter((key) => !OPTIONAL_FIELDS.has(key)) as (keyof DliteConfig)[]

/**
 * The whole-document schema exactly as conf assembles it from `schema` and `rootSchema`, and the Ajv
 * options conf compiles it with. scripts/config-validator.ts compiles the same pair ahead of time into
 * config-validator.generated.ts, so that reading the config needs neither conf nor ajv.
 */
export const CONFIG_ROOT_SCHEMA = {required: CONFIG_REQUIRED, type: 'object', properties: CONFIG_SCHEMA} as const
export const CONFIG_AJV_OPTIONS = {allErrors: true, useDefaults: true} as const

/** conf's project version for a schema version: conf compares semver, we only use the major. */
export function schemaSemver(schemaVersion: number): string {
  return `${schemaVersion}.0.0`
}

/** conf migrations keyed by semver (`'2.0.0'`); each gets the store and rewrites it in place. */
export type ConfigMigrations = Record<string, (store: Conf<DliteConfig>) => void>

export const CONFIG_MIGRATIONS: ConfigMigrations = {
  // Every install before schema 2 ran a root daemon on a bridge: it stays bridged (written out explicitly).
  '2.0.0': (store) => {
    if (!store.has('network')) store.set('network', 'bridged')
  },
  // One share became a list of mounts.
  '3.0.0': (store) => {
    const legacy = store.store as Record<string, unknown>
    if (!store.has('mounts')) store.set('mounts', typeof legacy.share === 'string' ? [{path: legacy.share}] : [])
    ;(store as unknown as Conf<Record<string, unknown>>).delete('share')
  },
}
