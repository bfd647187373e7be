/**
 * The ingest core is written once, as generators that yield each call to the dialect, and run two ways:
 * - `runSync` for a dialect that answers synchronously (SQLite): the whole group runs inside one
 *   synchronous transaction, so nothing else on the connection can run between its statements and no
 *   promise is made per statement;
 * - `runAsync` for a dialect whose driver answers with promises (MySQL, PlanetScale): one await per
 *   yielded call, and the core yields per batch (files of a group, usage rows of a group), never per line.
 */

/** A dialect call's answer: a value (synchronous dialects) or a promise of one. */
export type Step<A> = A | Promise<A>

/** A piece of the ingest core: yields dialect answers, returns `A`. */
export type Ingest<A> = Generator<Step<unknown>, A, unknown>

/** `const rows = yield* step(tx.loadFiles(...))`: the answer, whether the dialect gave a value or a promise. */
export function* step<A>(answer: Step<A>): Generator<Step<A>, A, unknown> {
  return (yield answer) as A
}

const isThenable = (u: unknown): u is PromiseLike<unknown> =>
  typeof (u as { then?: unknown } | null)?.then === "function"

/** Runs an ingest with a synchronous dialect; a promise from it is a bug in that dialect. */
export function runSync<A>(ingest: Ingest<A>): A {
  let next = ingest.next()
  while (!next.done) {
    if (isThenable(next.value)) {
      // Close the generator so its `finally` blocks run, then report the dialect's mistake.
      ingest.return(undefined as A)
      throw new Error("a synchronous ingest dialect returned a promise")
    }
    next = ingest.next(next.value)
  }
  return next.value
}

/** Runs an ingest with an asynchronous dialect: one await per yielded call. */
export async function runAsync<A>(ingest: Ingest<A>): Promise<A> {
  let next = ingest.next()
  while (!next.done) {
    let value: unknown
    try {
      value = await next.value
    } catch (error) {
      next = ingest.throw(error)
      continue
    }
    next = ingest.next(value)
  }
  return next.value
}
