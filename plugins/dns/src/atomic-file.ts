// Whole-file writes that never leave a half-written file: a temporary file next to the target, then rename.
// A target that is a bind mount (as `ip netns exec` makes of files under /etc) cannot be renamed over
// (EBUSY); such a file is rewritten in place instead.
import {renameSync, rmSync, writeFileSync} from 'node:fs'
import {basename, dirname, join} from 'node:path'

export function writeFileAtomic(path: string, content: string, mode = 0o644): void {
  const temp = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`)
  try {
    writeFileSync(temp, content, {mode})
    renameSync(temp, path)
  } catch (error) {
    rmSync(temp, {force: true})
    if ((error as NodeJS.ErrnoException).code !== 'EBUSY') throw error
    writeFileSync(path, content, {mode})
  }
}
