// The failures every dlite command reports the same way, as plain values with no oclif import, so domain code
// (pipelines, daemon-side logic) can throw them and the command base turns them into the exit code and fix.

export const EXIT_RUNTIME = 1
export const EXIT_USAGE = 2

/** listr2's renderers, as the commands choose them. */
export type Renderer = 'default' | 'simple' | 'silent'

/** A failure the user can act on: the message says what is wrong, `fix` what to do, `exit` is 1 or 2. */
export class CommandError extends Error {
  constructor(message: string, readonly fix?: string, readonly exit: typeof EXIT_RUNTIME | typeof EXIT_USAGE = EXIT_RUNTIME) {
    super(message)
  }
}
