/** A failure the user can act on: the message says what is wrong, `fix` what to do; `exit` 1 or 2. */
export class RoutingError extends Error {
  constructor(message: string, readonly fix?: string, readonly exit: 1 | 2 = 1) {
    super(message)
  }
}
