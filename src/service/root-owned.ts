// A system service runs `node <entry> daemon` as root at every boot. If anyone but root can change the node
// binary, the CLI's code (its entry, dist/ and node_modules/) or a directory on the service's PATH, they can
// make root run their code. So a system service is registered only when all of that is root's alone: owned by
// root, not writable by group or others, and so is every directory above it (a sticky root directory such as
// /tmp may be above, as it lets nobody replace what root put in it). A development checkout owned by its user
// fails this by design; DLITE_UNSAFE_ROOT_SERVICE_PATHS=1 registers anyway, and says so.
import {lstatSync, readdirSync, realpathSync} from 'node:fs'
import {dirname, join} from 'node:path'

export const UNSAFE_ROOT_SERVICE_OVERRIDE = 'DLITE_UNSAFE_ROOT_SERVICE_PATHS'

export interface PathStat {
  uid: number
  mode: number
  isDirectory: boolean
  isSymbolicLink: boolean
}

export interface PathFacts {
  lstat(path: string): PathStat
  realpath(path: string): string
  readdir(path: string): string[]
}

export const realPathFacts: PathFacts = {
  lstat(path) {
    const st = lstatSync(path)
    return {uid: st.uid, mode: st.mode, isDirectory: st.isDirectory(), isSymbolicLink: st.isSymbolicLink()}
  },
  realpath: (path) => realpathSync(path),
  readdir: (path) => readdirSync(path),
}

const STICKY = 0o1000
const GROUP_OR_OTHER_WRITE = 0o022
// Enough to name the problem; a user-owned checkout would otherwise list every file in it.
const MAX_PROBLEMS = 5

/** Why `path` (after links) or a directory above it is not root's alone; undefined when it is. */
function ownershipProblem(path: string, facts: PathFacts, ancestor: boolean): string | undefined {
  const st = facts.lstat(path)
  if (st.uid !== 0) return `${path} is owned by uid ${st.uid}, not root`
  if (st.mode & GROUP_OR_OTHER_WRITE && !(ancestor && st.isDirectory && st.mode & STICKY)) {
    return `${path} is writable by ${st.mode & 0o002 ? 'everyone' : 'its group'} (mode ${(st.mode & 0o7777).toString(8)})`
  }
  return undefined
}

function withAncestors(path: string, facts: PathFacts, problems: string[]): void {
  const real = facts.realpath(path)
  const own = ownershipProblem(real, facts, false)
  if (own) problems.push(own)
  for (let dir = dirname(real); ; dir = dirname(dir)) {
    const problem = ownershipProblem(dir, facts, true)
    if (problem && !problems.includes(problem)) problems.push(problem)
    if (dir === dirname(dir)) break
  }
}

function exists(path: string, facts: PathFacts): boolean {
  try {
    facts.lstat(path)
    return true
  } catch {
    return false
  }
}

/** Every file and directory below `root` (links followed once, to their targets' trees). */
function wholeTree(root: string, facts: PathFacts, problems: string[], seen: Set<string>): void {
  const stack = [facts.realpath(root)]
  while (stack.length > 0 && problems.length < MAX_PROBLEMS) {
    const path = stack.pop()!
    if (seen.has(path)) continue
    seen.add(path)
    const st = facts.lstat(path)
    if (st.isSymbolicLink) {
      withAncestors(path, facts, problems) // where the link leads, and what is above it
      stack.push(facts.realpath(path))
      continue
    }
    const problem = ownershipProblem(path, facts, false)
    if (problem) problems.push(problem)
    if (st.isDirectory) for (const name of facts.readdir(path)) stack.push(join(path, name))
  }
}

/** What would let someone other than root change `path` or a directory above it; empty when only root can. */
export function rootOnlyPathProblems(path: string, facts: PathFacts = realPathFacts): string[] {
  const problems: string[] = []
  withAncestors(path, facts, problems)
  return problems.slice(0, MAX_PROBLEMS)
}

/**
 * What would let someone other than root change what a root service runs: the node binary, the CLI's package
 * (the directory above bin/run.js: its code and dependencies), and each directory on PATH. Empty when safe.
 */
export function rootServiceProblems(command: string[], path: string | undefined, facts: PathFacts = realPathFacts): string[] {
  const problems: string[] = []
  const [node, entry] = command
  withAncestors(node, facts, problems)
  if (entry) {
    const packageRoot = dirname(dirname(facts.realpath(entry)))
    withAncestors(packageRoot, facts, problems)
    wholeTree(packageRoot, facts, problems, new Set())
  }
  for (const dir of (path ?? '').split(':').filter(Boolean)) {
    // a PATH entry that does not exist can be made by whoever may write the nearest directory that does
    let existing = dir
    while (!exists(existing, facts) && existing !== dirname(existing)) existing = dirname(existing)
    withAncestors(existing, facts, problems)
  }
  return [...new Set(problems)].slice(0, MAX_PROBLEMS)
}
