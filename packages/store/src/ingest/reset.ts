/**
 * A reset: the daemon found its file replaced, shrunk or rewritten and re-reads it from 0 under the
 * next generation. Lines that no longer fit in the file's new size are superseded at once; those before
 * it are verified as the daemon re-reads them (`decide.ts`).
 */
import type { Sync } from "@overlord/protocol"
import type { AppendOutcome, MachineActor } from "../store.ts"
import { loadTails, openFiles, SessionSet, sourcesBack } from "./append.ts"
import { ackCursor, cursorOf } from "./cursors.ts"
import type { IngestTx, WritePlan } from "./dialect.ts"
import { emptyPlan, recomputeSessions } from "./sessions.ts"
import { type Ingest, step } from "./steps.ts"

export function* resetFile(tx: IngestTx, actor: MachineActor, reset: Sync.Reset): Ingest<AppendOutcome> {
  const files = yield* openFiles(tx, actor, new Map([[reset.fileKey, reset.identity]]), new SessionSet())
  const file = { ...files.get(reset.fileKey)! }
  if (reset.generation !== file.generation + 1) {
    const tails = yield* loadTails(tx, [file])
    return {
      _tag: "Rejected",
      reason: `reset to generation ${reset.generation}, but the server is at ${file.generation}`,
      cursor: cursorOf(file, tails.get(file.id) ?? null),
    }
  }
  // The daemon re-reads a file it has: held as gone, it is back (`WritePlan.sourcesBack`).
  const plan: WritePlan = { ...emptyPlan(), ...sourcesBack([file]) }
  const recompute: number[] = []
  // Lines past the new end no longer exist; lines before it are verified as the daemon re-reads.
  const cut = (yield* step(tx.firstLiveLineEndingAfter(file.id, reset.size))) ?? file.live_end
  if (cut < file.live_end) {
    file.line_count -= yield* step(tx.countLiveFrom(file.id, cut))
    file.live_end = cut
    plan.supersede.push({ fileId: file.id, fromOffset: cut })
    if (file.session_id !== null) recompute.push(file.session_id)
  }
  file.generation = reset.generation
  file.identity = reset.identity
  file.offset = 0
  file.open_seq = null
  plan.files.push(file)
  yield* step(tx.write(plan))
  if (recompute.length > 0) yield* recomputeSessions(tx, recompute)
  return { _tag: "Ack", cursor: ackCursor(file), stored: [] }
}
