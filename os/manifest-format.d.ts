// Types of os/manifest-format.js, the one definition of the OS image manifest.

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

export interface ManifestFields {
  version: string
  arch: string
  debian: {suite: string; arch: string}
  kernel: {version: string; cmdline: string}
  docker: {version: string; containerd?: string; runc?: string}
  broken?: boolean
  contract: number
  files: Array<ManifestFile & {format?: string}>
  packages: number
  inputsHash: string
  builtAt: string
}

export declare const MANIFEST_SCHEMA: number
export declare const VERSION_PATTERN: RegExp
export declare class ManifestError extends Error {
  readonly origin: string
  constructor(origin: string, detail: string)
}
export declare function manifestDocument(fields: ManifestFields): Record<string, unknown>
export declare function parseManifest(input: string | unknown, origin?: string): Manifest
