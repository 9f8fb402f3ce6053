// The OS image manifest (os/dist/manifest.json, written by `npm run os:build`). Its format is defined once, in
// os/manifest-format.js, which the image builder writes and checks with too; here are what only the host needs:
// architecture names and which file plays which role.
import type {Manifest, ManifestFile} from '../../os/manifest-format.js'

export {ManifestError, parseManifest, VERSION_PATTERN} from '../../os/manifest-format.js'
export type {Manifest, ManifestFile} from '../../os/manifest-format.js'

const ARCH_ALIASES: Record<string, string> = {amd64: 'x86_64', x64: 'x86_64', x86_64: 'x86_64', arm64: 'aarch64', aarch64: 'aarch64'}

/** One spelling per architecture: amd64/x64 -> x86_64, arm64 -> aarch64. */
export function normalizeArch(arch: string): string {
  return ARCH_ALIASES[arch.toLowerCase()] ?? arch.toLowerCase()
}

export function hostArch(): string {
  return normalizeArch(process.arch)
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
