// A text progress bar for listr2 task output (downloads of OS images).
import type {ImageProgress} from '../image/index.js'

export function progressBar(p: ImageProgress, width = 30): string {
  const ratio = p.bytesTotal > 0 ? Math.min(1, p.bytesDone / p.bytesTotal) : 0
  const filled = Math.round(ratio * width)
  const mib = (n: number) => (n / 1024 / 1024).toFixed(1)
  return `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${Math.round(ratio * 100)}% ${mib(p.bytesDone)}/${mib(p.bytesTotal)} MiB (${p.file})`
}
