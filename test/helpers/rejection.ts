// The error a promise rejects with, for tests that assert on it; a promise that resolves fails the test.
export async function rejection(promise: Promise<unknown>): Promise<Error & {code?: string}> {
  try {
    await promise
  } catch (error) {
    return error as Error
  }
  throw new Error('expected a rejection, but it resolved')
}
