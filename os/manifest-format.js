// The OS image manifest's format, defined once: os/build.js writes manifest.json with manifestDocument and
// checks what it wrote with parseManifest, and dlite's host side (src/image/manifest.ts) reads every
// manifest with the same parseManifest. Strict on the fields dlite relies on, tolerant of everything else
// (kept verbatim in `raw`). Plain JavaScript, so the builder runs without a TypeScript build; types in
// manifest-format.d.ts.

export const MANIFEST_SCHEMA = 1

/** Safe as a directory name and stable across hosts. */
export const VERSION_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/
const FILE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,254}$/
const SHA256_PATTERN = /^[0-9a-fA-F]{64}$/
/** manifest.json is ours to write in the image directory, so no image file may take the name. */
const RESERVED_NAMES = new Set(['manifest.json'])

export class ManifestError extends Error {
  constructor(origin, detail) {
    super(`${origin}: invalid OS image manifest: ${detail}`)
    this.origin = origin
    this.name = 'ManifestError'
  }
}

/** The document os/build.js writes, in this order of fields. */
export function manifestDocument(fields) {
  const {version, arch, debian, kernel, docker, broken, contract, files, packages, inputsHash, builtAt} = fields
  return {
    schema: MANIFEST_SCHEMA,
    name: 'dlite-os',
    version,
    arch,
    debian,
    kernel,
    docker,
    broken: broken || undefined,
    contract,
    files,
    packages,
    totalSize: files.reduce((sum, file) => sum + file.size, 0),
    inputsHash,
    builtAt,
  }
}

function nonEmptyString(value) {
  return typeof value === 'string' && value.trim() !== ''
}

/** `kernelVersion` or `kernel.version` (os:build writes the nested form). */
function versionField(raw, flat, nested) {
  if (raw[flat] !== undefined) return raw[flat]
  const group = raw[nested]
  return group && typeof group === 'object' ? group.version : undefined
}

export function parseManifest(input, origin = 'manifest') {
  let raw = input
  if (typeof input === 'string') {
    try {
      raw = JSON.parse(input)
    } catch (error) {
      throw new ManifestError(origin, `not JSON (${error.message})`)
    }
  }
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new ManifestError(origin, 'not a JSON object')
  const doc = raw
  const bad = (detail) => new ManifestError(origin, detail)

  if (!nonEmptyString(doc.version) || !VERSION_PATTERN.test(doc.version)) {
    throw bad(`"version" must be a string of letters, digits and . _ + - (got ${JSON.stringify(doc.version)})`)
  }
  if (!nonEmptyString(doc.arch)) throw bad('"arch" must be a non-empty string')
  const kernelVersion = versionField(doc, 'kernelVersion', 'kernel')
  if (!nonEmptyString(kernelVersion)) throw bad('"kernelVersion" (or "kernel.version") must be a non-empty string')
  const dockerVersion = versionField(doc, 'dockerVersion', 'docker')
  if (!nonEmptyString(dockerVersion)) throw bad('"dockerVersion" (or "docker.version") must be a non-empty string')
  if (!Array.isArray(doc.files) || doc.files.length === 0) throw bad('"files" must be a non-empty array')

  const seen = new Set()
  const files = doc.files.map((entry, i) => {
    const where = `files[${i}]`
    if (!entry || typeof entry !== 'object') throw bad(`${where} must be an object`)
    const {name, size, sha256, role} = entry
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
  const kernel = doc.kernel
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
