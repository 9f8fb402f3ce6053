/** A failure the user can act on: the message says what is wrong, `fix` what to do; it exits 1. */
export class RoutingError extends Error {
  readonly exit = 1

  constructor(message: string, readonly fix?: string) {
    super(message)
  }
}
