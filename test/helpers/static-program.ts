// Small programs for containers: there is no registry to pull tools from, and the busybox the tests import
// lacks some, so the tests compile them statically (the host's C compiler and static libc) into a directory
// the container can see.
import {execFileSync} from 'node:child_process'
import {existsSync, writeFileSync} from 'node:fs'
import {join} from 'node:path'

/** Builds `<dir>/<name>` from C source unless it is there; returns its path. */
export function staticProgram(dir: string, name: string, source: string): string {
  const binary = join(dir, name)
  if (existsSync(binary)) return binary
  const file = join(dir, `${name}.c`)
  writeFileSync(file, source)
  execFileSync('cc', ['-static', '-O2', '-o', binary, file], {stdio: 'pipe'})
  return binary
}
