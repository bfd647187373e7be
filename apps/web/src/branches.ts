/**
 * Branched sessions (rewinds, edited prompts: several children of one parent) are stored in file
 * order, so the abandoned branch sits interleaved with the thread the conversation went on with.
 * `@overlord/transcript`'s `buildConversation` knows the main thread; entries off it are marked.
 */
import { buildConversation, type ConversationNode } from "@overlord/transcript"
import type { Row } from "./grouping.ts"

const EMPTY: ReadonlySet<number> = new Set()

/**
 * Seqs of conversation records (user/assistant, and records hanging off them) that are not on the
 * main thread, when the loaded entries hold more than one branch. Empty for unbranched sessions.
 */
export const offThreadSeqs = (rows: readonly Row[]): ReadonlySet<number> => {
  const conversation = buildConversation(rows.map((r) => ({ record: r.record.record })))
  if (conversation.branchCount <= 1) return EMPTY
  const onMain = new Set(conversation.mainThread)
  const { nodes } = conversation
  // A progress/attachment/system node belongs where its nearest user/assistant ancestor is.
  const offMain = new Map<string, boolean>()
  const isOff = (start: ConversationNode): boolean => {
    const path: string[] = []
    let result = false
    for (let n: ConversationNode | undefined = start; n !== undefined; ) {
      const known = offMain.get(n.uuid)
      if (known !== undefined) {
        result = known
        break
      }
      path.push(n.uuid)
      if (n.record.kind === "user" || n.record.kind === "assistant") {
        result = !onMain.has(n.uuid)
        break
      }
      const parent: ConversationNode | undefined = n.parentUuid === null ? undefined : nodes.get(n.parentUuid)
      if (parent === undefined || path.includes(parent.uuid)) break
      n = parent
    }
    for (const uuid of path) offMain.set(uuid, result)
    return result
  }
  const seqOf = new Map<unknown, number>(rows.map((r) => [r.record.record, r.entry.seq]))
  const out = new Set<number>()
  for (const node of nodes.values()) {
    if (node.isSidechain || onMain.has(node.uuid) || !isOff(node)) continue
    const seq = seqOf.get(node.record)
    if (seq !== undefined) out.add(seq)
  }
  return out
}
