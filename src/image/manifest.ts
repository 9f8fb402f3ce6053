// The OS image manifest (os/dist/manifest.json, written by `npm run os:build`): parsed strictly on the
// fields dlite relies on, tolerant of everything else (kept verbatim in `raw`).

export interface ManifestFile {
  /** A plain file name inside the image directory. */
  name: string
  size: number
  /** Lowercase hex. */
  sha256: string
  /** What the file is for the VM: kernel, initrd, root (others are carried along). */
  role?: string
}

export interface Manifest {
  version: string
  arch: string
  kernelVersion: string
  dockerVersion: string
  kernelCmdline?: string
  /** The host/guest settings contract the image speaks, when the manifest states one. */
  contract?: number
  files: ManifestFile[]
  totalSize: number
  raw: Record<string, unknown>
}

export class ManifestError extends Error {
  constructor(readonly origin: string, detail: string) {
    super(`${origin}: invalid OS image manifest: ${detail}`)
    this.name = 'ManifestError'
  }
}

/** Safe as a directory name and stable across hosts. */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/
const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/
const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/
/** manifest.json is ours to write in the image directory, so no image file may take the name. */
const RESERVED_NAMES = new Set(['manifest.json'])

const ARCH_ALIASES: Record<string, string> = {amd64: 'x86_64', x64: 'x86_64', x86_64: 'x86_64', arm64: 'aarch64', aarch64: 'aarch64'}

/** One spelling per architecture: amd64/x64 -> x86_64, arm64 -> aarch64. */
export function normalizeArch(arch: string): string {
  return ARCH_ALIASES[arch.toLowerCase()] ?? arch.toLowerCase()
}

export function hostArch(): string {
  return normalizeArch(process.arch)
}

function nonEmptyString(value: unknown): value is string {
  return typeof value === 'string' && value.trim() !== ''
}

/** `kernelVersion` or `kernel.version` (os:build writes the nested form). */
function versionField(raw: Record<string, unknown>, flat: string, nested: string): unknown {
  if (raw[flat] !== undefined) return raw[flat]
  const group = raw[nested]
  return group && typeof group === 'object' ? (group as Record<string, unknown>).version : undefined
}

export function parseManifest(input: string | unknown, origin = 'manifest'): Manifest {
  let raw: unknown = input
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input)
    } catch (error) {
      throw new ManifestError(origin, `not JSON (${(error as Error).message})`)
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError(origin, 'not a JSON object')
  const doc = raw as Record<string, unknown>
  const bad = (detail: string) => new ManifestError(origin, detail)

  if (!nonEmptyString(doc.version) || !VERSION_PATTERN.test(doc.version)) {
    throw bad(`"version" must be a string of letters, digits and . _ + - (got ${JSON.stringify(doc.version)})`)
  }
  if (!nonEmptyString(doc.arch)) throw bad('"arch" must be a non-empty string')
  const kernelVersion = versionField(doc, 'kernelVersion', 'kernel')
  if (!nonEmptyString(kernelVersion)) throw bad('"kernelVersion" (or "kernel.version") must be a non-empty string')
  const dockerVersion = versionField(doc, 'dockerVersion', 'docker')
  if (!nonEmptyString(dockerVersion)) throw bad('"dockerVersion" (or "docker.version") must be a non-empty string')
  if (!Array.isArray(doc.files) || doc.files.length === 0) throw bad('"files" must be a non-empty array')

  const seen = new Set<string>()
  const files = doc.files.map((entry: unknown, i: number): ManifestFile => {
    const where = `files[${i}]`
    if (!entry || typeof entry !== 'object') throw bad(`${where} must be an object`)
    const {name, size, sha256, role} = entry as Record<string, unknown>
    if (typeof name !== 'string' || !FILE_NAME_PATTERN.test(name) || RESERVED_NAMES.has(name)) {
      throw bad(`${where}.name must be a plain file name (no directories), got ${JSON.stringify(name)}`)
    }
    if (seen.has(name)) throw bad(`${where}.name "${name}" is listed twice`)
    seen.add(name)
    if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) throw bad(`${where}.size of ${name} must be a whole number of bytes`)
    if (typeof sha256 !== 'string' || !SHA256_PATTERN.test(sha256)) throw bad(`${where}.sha256 of ${name} must be 64 hex digits`)
    if (role !== undefined && typeof role !== 'string') throw bad(`${where}.role of ${name} must be a string`)
    return {name, size, sha256: sha256.toLowerCase(), ...(role === undefined ? {} : {role})}
  })
  const kernel = doc.kernel as Record<string, unknown> | undefined
  return {
    version: doc.version,
    arch: doc.arch,
    kernelVersion,
    dockerVersion,
    ...(kernel && typeof kernel === 'object' && typeof kernel.cmdline === 'string' ? {kernelCmdline: kernel.cmdline} : {}),
    ...(typeof doc.contract === 'number' ? {contract: doc.contract} : {}),
    files,
    totalSize: files.reduce((sum, file) => sum + file.size, 0),
    raw: doc,
  }
}

/** The file playing `role`: by its role field, else by the conventional name. */
export function fileForRole(manifest: Manifest, role: 'kernel' | 'initrd' | 'root'): ManifestFile | undefined {
  const byRole = manifest.files.find((file) => file.role === role)
  if (byRole) return byRole
  const conventional = {
    kernel: /^(vmlinuz|bzImage|kernel|Image)/,
    initrd: /^(initrd|initramfs|rootfs\.cpio)/,
    root: /^root.*\.(img|squashfs|erofs|raw|qcow2)$/,
  }[role]
  return manifest.files.find((file) => file.role === undefined && conventional.test(file.name))
}
