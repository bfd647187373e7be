/**
 * Rebuilds the conversation DAG from parsed records (reference §6, §7, §12).
 *
 * Input may span several files of one session (main file, agent files, resume copies) in any order.
 * Records are deduplicated by `uuid` (first occurrence wins), because forks and resumes copy records
 * with their uuids. Every walk is cycle-safe: Claude Code has written self-references and cycles.
 */
import { type ToolResultBlock, toolResultText } from "./content.ts"
import { promptText } from "./index-fields.ts"
import { classifyFileKey } from "./paths.ts"
import { contentBlocks, jsonOf, obj, type ParsedRecord, str, type TranscriptRecord } from "./records.ts"

export interface ConversationInput {
  readonly record: TranscriptRecord
  readonly fileKey?: string
  readonly lineNo?: number
}

export interface ConversationNode {
  readonly uuid: string
  readonly parentUuid: string | null
  /** Only on `compact_boundary`: the real predecessor across the compaction. */
  readonly logicalParentUuid: string | null
  readonly record: ParsedRecord
  readonly fileKey: string | null
  readonly lineNo: number | null
  /** Position in the input: the tie-breaker when timestamps are missing or equal. */
  readonly order: number
  readonly isSidechain: boolean
  readonly timestamp: string | null
  /** Nodes whose `parentUuid` is this node, in input order. */
  readonly children: string[]
  /** Compaction boundaries whose `logicalParentUuid` is this node. */
  readonly logicalChildren: string[]
}

export interface ToolCall {
  readonly toolUseId: string
  /** Null when only the result was seen (e.g. the tool_use is in a file not loaded). */
  readonly name: string | null
  readonly input: unknown
  readonly useUuid: string | null
  resultUuid: string | null
  result: ToolResultBlock | null
  /** The record's `toolUseResult`: the tool's structured output (reference §5); null when absent. */
  toolUseResult: unknown
}

export interface SubagentLink {
  readonly toolUseId: string
  /** `Task` (≤ 2.1.62) or `Agent`. */
  readonly toolName: string
  readonly useUuid: string | null
  readonly resultUuid: string | null
  readonly agentId: string
  /** `status: "async_launched"`: the agent's work finishes later (task notification). */
  readonly async: boolean
  /** Input files that hold this agent's records (by file name or by the records' `agentId`). */
  readonly childFileKeys: readonly string[]
}

export interface CompactionBoundary {
  readonly uuid: string
  readonly logicalParentUuid: string | null
  readonly trigger: string | null
  readonly preTokens: number | null
  /** The `isCompactSummary` user record written right after the boundary. */
  readonly summaryUuid: string | null
}

export interface Conversation {
  readonly nodes: ReadonlyMap<string, ConversationNode>
  /** Nodes without a usable parent: first records, boundaries, dangling parents, self-references. */
  readonly roots: readonly string[]
  /** Nodes with no children (physical or logical). */
  readonly leaves: readonly string[]
  /** The main thread's end: the newest non-sidechain leaf, walked up to a user/assistant record. */
  readonly mainLeaf: string | null
  /**
   * Root to `mainLeaf`, stitched across compactions, with parallel tool results (siblings that hang
   * off earlier blocks of the same response) re-attached after their parent.
   */
  readonly mainThread: readonly string[]
  /** Alternative endings of the main conversation (rewinds, edited prompts), `mainLeaf` first. */
  readonly branchLeaves: readonly string[]
  readonly branchCount: number
  readonly toolCalls: ReadonlyMap<string, ToolCall>
  readonly subagentLinks: readonly SubagentLink[]
  readonly compactions: readonly CompactionBoundary[]
  /** Nodes where a parent walk came back to itself (the walk stops there). */
  readonly cycles: readonly string[]
  /** Records skipped because their uuid was already seen. */
  readonly duplicateCount: number
}

const CHAIN_KINDS = new Set(["user", "assistant", "system", "attachment", "progress"])

function isChainRecord(record: TranscriptRecord): record is ParsedRecord {
  if (CHAIN_KINDS.has(record.kind)) return true
  // An unknown type that carries the chain envelope is a newer chain record; keep it in the graph.
  return record.kind === "unknown" && "parentUuid" in record.json
}

export function buildConversation(inputs: readonly ConversationInput[]): Conversation {
  const nodes = new Map<string, ConversationNode>()
  let duplicateCount = 0
  inputs.forEach((input, order) => {
    const { record } = input
    if (!isChainRecord(record)) return
    const uuid = str(record.json.uuid)
    if (uuid === null) return
    if (nodes.has(uuid)) {
      duplicateCount++
      return
    }
    nodes.set(uuid, {
      uuid,
      parentUuid: str(record.json.parentUuid),
      logicalParentUuid: str(record.json.logicalParentUuid),
      record,
      fileKey: input.fileKey ?? null,
      lineNo: input.lineNo ?? null,
      order,
      isSidechain: record.json.isSidechain === true,
      timestamp: str(record.json.timestamp),
      children: [],
      logicalChildren: [],
    })
  })

  const roots: string[] = []
  const cycles = new Set<string>()
  for (const node of nodes.values()) {
    const parent = node.parentUuid === null ? undefined : nodes.get(node.parentUuid)
    if (parent !== undefined && parent !== node) parent.children.push(node.uuid)
    else roots.push(node.uuid)
    if (node.parentUuid === node.uuid) cycles.add(node.uuid)
    const logical = node.logicalParentUuid === null ? undefined : nodes.get(node.logicalParentUuid)
    if (logical !== undefined && logical !== node) logical.logicalChildren.push(node.uuid)
  }

  // The next node up: the parent, or across a compaction boundary its logical parent.
  const up = (node: ConversationNode): ConversationNode | undefined => {
    const parent = node.parentUuid === null ? undefined : nodes.get(node.parentUuid)
    if (parent !== undefined) return parent
    return node.logicalParentUuid === null ? undefined : nodes.get(node.logicalParentUuid)
  }

  /** From `start` towards the root, lazily and cycle-safe: stops before the first repeated node. */
  function* walkUp(start: ConversationNode): Generator<ConversationNode> {
    const seen = new Set<string>()
    for (let n: ConversationNode | undefined = start; n !== undefined; n = up(n)) {
      if (seen.has(n.uuid)) {
        cycles.add(n.uuid)
        return
      }
      seen.add(n.uuid)
      yield n
    }
  }

  const leaves = [...nodes.values()].filter((n) => n.children.length === 0 && n.logicalChildren.length === 0)

  // Terminal progress/system/attachment records stand for the nearest user/assistant above them.
  const effectiveLeaf = (leaf: ConversationNode): ConversationNode => {
    for (const n of walkUp(leaf)) if (n.record.kind === "user" || n.record.kind === "assistant") return n
    return leaf
  }

  const newer = (a: ConversationNode, b: ConversationNode): boolean => {
    const ta = a.timestamp === null ? Number.NaN : Date.parse(a.timestamp)
    const tb = b.timestamp === null ? Number.NaN : Date.parse(b.timestamp)
    const va = Number.isNaN(ta) ? Number.NEGATIVE_INFINITY : ta
    const vb = Number.isNaN(tb) ? Number.NEGATIVE_INFINITY : tb
    return va !== vb ? va > vb : a.order > b.order
  }

  const mainLeaves = leaves.filter((n) => !n.isSidechain)
  // A file of sidechain records only (an agent file on its own) still has a thread worth showing.
  const candidates = uniqueNodes((mainLeaves.length > 0 ? mainLeaves : leaves).map(effectiveLeaf))
  let mainLeafNode: ConversationNode | undefined
  for (const c of candidates) if (mainLeafNode === undefined || newer(c, mainLeafNode)) mainLeafNode = c

  const mainThread: string[] = []
  const onMain = new Set<string>()
  // Blocks of one API response are chained one after another; with parallel tool calls the thread
  // continues from the last block while earlier blocks keep their own results as side leaves.
  const attach = (n: ConversationNode) => {
    mainThread.push(n.uuid)
    onMain.add(n.uuid)
  }
  const attachResponseSiblings = (n: ConversationNode) => {
    const responseId = messageIdOf(n)
    for (const childId of n.children) {
      const child = nodes.get(childId)
      if (child === undefined || onMain.has(childId)) continue
      if (responseId !== null && messageIdOf(child) === responseId && isResponseTail(child, responseId, nodes)) {
        // The whole subtree is this response's later blocks and their results: attach it in order.
        for (const m of preOrder(child, nodes)) {
          if ((m.record.kind === "user" || m.record.kind === "assistant") && !onMain.has(m.uuid)) attach(m)
        }
      } else if (isParallelToolResult(child, nodes)) {
        attach(child)
      }
    }
  }
  if (mainLeafNode !== undefined) {
    const path = [...walkUp(mainLeafNode)].reverse()
    for (const n of path) onMain.add(n.uuid)
    for (const n of path) {
      mainThread.push(n.uuid)
      attachResponseSiblings(n)
    }
  }

  // Nodes that lie above some other candidate: those candidates continue, they are not endings.
  const covered = new Set<string>()
  for (const c of candidates) {
    for (const n of walkUp(c)) {
      if (n === c) continue
      if (covered.has(n.uuid)) break
      covered.add(n.uuid)
    }
  }
  // Responses the conversation goes on from (a later prompt or response hangs below one of their
  // blocks): a leaf inside such a response is a parallel block or its result, not an ending.
  const continuedResponses = new Set<string>()
  for (const node of nodes.values()) {
    const responseId = messageIdOf(node)
    if (responseId === null || continuedResponses.has(responseId)) continue
    for (const childId of node.children) {
      const child = nodes.get(childId)
      if (child === undefined || (child.record.kind !== "user" && child.record.kind !== "assistant")) continue
      if (messageIdOf(child) === responseId || isParallelToolResult(child, nodes)) continue
      continuedResponses.add(responseId)
      break
    }
  }
  const branchLeaves: string[] = mainLeafNode === undefined ? [] : [mainLeafNode.uuid]
  for (const c of candidates) {
    if (c === mainLeafNode || c.isSidechain !== (mainLeafNode?.isSidechain ?? false)) continue
    if (covered.has(c.uuid) || onMain.has(c.uuid)) continue
    const parent = c.parentUuid === null ? undefined : nodes.get(c.parentUuid)
    const response = c.record.kind === "assistant" ? c : isParallelToolResult(c, nodes) ? parent : undefined
    const responseId = response === undefined ? null : messageIdOf(response)
    if (responseId !== null && continuedResponses.has(responseId)) continue
    branchLeaves.push(c.uuid)
  }

  const toolCalls = pairTools(nodes)
  return {
    nodes,
    roots,
    leaves: leaves.map((n) => n.uuid),
    mainLeaf: mainLeafNode?.uuid ?? null,
    mainThread,
    branchLeaves,
    branchCount: branchLeaves.length,
    toolCalls,
    subagentLinks: linkSubagents(toolCalls, inputs),
    compactions: findCompactions(nodes),
    cycles: [...cycles],
    duplicateCount,
  }
}

function messageIdOf(node: ConversationNode): string | null {
  return node.record.kind === "assistant" ? str(obj(node.record.json.message)?.id) : null
}

/**
 * True when everything below `start` belongs to the same response: its other blocks and their tool
 * results, with nothing but progress/system records after those.
 */
function isResponseTail(
  start: ConversationNode,
  responseId: string,
  nodes: ReadonlyMap<string, ConversationNode>,
): boolean {
  const seen = new Set<string>()
  const stack = [start]
  while (stack.length > 0) {
    const n = stack.pop() as ConversationNode
    if (seen.has(n.uuid)) continue
    seen.add(n.uuid)
    if (n.record.kind === "assistant" && messageIdOf(n) !== responseId) return false
    if (n.record.kind === "user" && !isParallelToolResult(n, nodes)) return false
    for (const id of n.children) {
      const child = nodes.get(id)
      if (child !== undefined) stack.push(child)
    }
  }
  return true
}

/** Depth-first, parents before children, children in input order; iterative and cycle-safe. */
function preOrder(start: ConversationNode, nodes: ReadonlyMap<string, ConversationNode>): ConversationNode[] {
  const out: ConversationNode[] = []
  const seen = new Set<string>()
  const stack = [start]
  while (stack.length > 0) {
    const n = stack.pop() as ConversationNode
    if (seen.has(n.uuid)) continue
    seen.add(n.uuid)
    out.push(n)
    for (let k = n.children.length - 1; k >= 0; k--) {
      const child = nodes.get(n.children[k] as string)
      if (child !== undefined) stack.push(child)
    }
  }
  return out
}

function uniqueNodes(list: ConversationNode[]): ConversationNode[] {
  return [...new Set(list)]
}

/**
 * A user record made only of tool results that the conversation does not continue from (only hook
 * progress or system notes below it): in 2.1.x each parallel result hangs off its own tool_use block.
 */
function isParallelToolResult(node: ConversationNode, nodes: ReadonlyMap<string, ConversationNode>): boolean {
  if (node.record.kind !== "user") return false
  const blocks = contentBlocks(node.record)
  if (blocks.length === 0 || !blocks.every((b) => b.type === "tool_result")) return false
  const seen = new Set<string>([node.uuid])
  const stack = [...node.children]
  while (stack.length > 0) {
    const id = stack.pop() as string
    if (seen.has(id)) continue
    seen.add(id)
    const child = nodes.get(id)
    if (child === undefined) continue
    if (child.record.kind === "user" || child.record.kind === "assistant") return false
    stack.push(...child.children)
  }
  return true
}

function pairTools(nodes: ReadonlyMap<string, ConversationNode>): Map<string, ToolCall> {
  const calls = new Map<string, ToolCall>()
  for (const node of nodes.values()) {
    if (node.record.kind !== "assistant") continue
    for (const block of contentBlocks(node.record)) {
      if (block.type !== "tool_use" || calls.has(block.id)) continue
      calls.set(block.id, {
        toolUseId: block.id,
        name: block.name,
        input: block.input,
        useUuid: node.uuid,
        resultUuid: null,
        result: null,
        toolUseResult: null,
      })
    }
  }
  for (const node of nodes.values()) {
    if (node.record.kind !== "user") continue
    for (const block of contentBlocks(node.record)) {
      if (block.type !== "tool_result") continue
      let call = calls.get(block.toolUseId)
      if (call === undefined) {
        call = {
          toolUseId: block.toolUseId,
          name: null,
          input: null,
          useUuid: null,
          resultUuid: null,
          result: null,
          toolUseResult: null,
        }
        calls.set(block.toolUseId, call)
      }
      if (call.result !== null) continue
      call.result = block
      call.resultUuid = node.uuid
      call.toolUseResult = node.record.json.toolUseResult ?? null
    }
  }
  return calls
}

const AGENT_ID_IN_TEXT = /agentId: ([A-Za-z0-9_-]+)/

function linkSubagents(calls: ReadonlyMap<string, ToolCall>, inputs: readonly ConversationInput[]): SubagentLink[] {
  const filesByAgent = new Map<string, Set<string>>()
  const addFile = (agentId: string, fileKey: string) => {
    let set = filesByAgent.get(agentId)
    if (set === undefined) {
      set = new Set()
      filesByAgent.set(agentId, set)
    }
    set.add(fileKey)
  }
  const classified = new Map<string, string | null>()
  for (const { record, fileKey } of inputs) {
    if (fileKey === undefined) continue
    if (!classified.has(fileKey)) {
      const agentId = classifyFileKey(fileKey).agentId
      classified.set(fileKey, agentId)
      if (agentId !== null) addFile(agentId, fileKey)
    }
    // Sidechain records name their agent even when the file name does not (2.0.x flat files, copies).
    const json = jsonOf(record)
    const recordAgent = json?.isSidechain === true ? str(json.agentId) : null
    if (recordAgent !== null) addFile(recordAgent, fileKey)
  }

  const links: SubagentLink[] = []
  for (const call of calls.values()) {
    if (call.name !== "Task" && call.name !== "Agent") continue
    if (call.result === null) continue
    const structured = obj(call.toolUseResult)
    const agentId = str(structured?.agentId) ?? AGENT_ID_IN_TEXT.exec(toolResultText(call.result))?.[1] ?? null
    if (agentId === null) continue
    links.push({
      toolUseId: call.toolUseId,
      toolName: call.name,
      useUuid: call.useUuid,
      resultUuid: call.resultUuid,
      agentId,
      async: structured?.status === "async_launched" || structured?.isAsync === true,
      childFileKeys: [...(filesByAgent.get(agentId) ?? [])],
    })
  }
  return links
}

function findCompactions(nodes: ReadonlyMap<string, ConversationNode>): CompactionBoundary[] {
  const out: CompactionBoundary[] = []
  for (const node of nodes.values()) {
    if (node.record.kind !== "system" || node.record.subtype !== "compact_boundary") continue
    const meta = obj(node.record.json.compactMetadata)
    const summary = node.children.find((id) => nodes.get(id)?.record.json.isCompactSummary === true) ?? null
    out.push({
      uuid: node.uuid,
      logicalParentUuid: node.logicalParentUuid,
      trigger: str(meta?.trigger),
      preTokens: typeof meta?.preTokens === "number" ? meta.preTokens : null,
      summaryUuid: summary,
    })
  }
  return out
}

export type TitleSource = "custom-title" | "ai-title" | "summary" | "first-prompt"

/**
 * A session's display title: the last custom title (`/rename`), else the last AI title, else the
 * last `summary` record, else the first human prompt. Null when there is none.
 */
export function sessionTitle(records: Iterable<TranscriptRecord>): string | null {
  return sessionTitleWithSource(records)?.title ?? null
}

export function sessionTitleWithSource(
  records: Iterable<TranscriptRecord>,
): { readonly title: string; readonly source: TitleSource } | null {
  let custom: string | null = null
  let ai: string | null = null
  let summary: string | null = null
  let prompt: string | null = null
  for (const r of records) {
    if (r.kind === "metadata" && r.type === "custom-title") custom = nonEmpty(r.json.customTitle) ?? custom
    else if (r.kind === "metadata" && r.type === "ai-title") ai = nonEmpty(r.json.aiTitle) ?? ai
    else if (r.kind === "summary") summary = nonEmpty(r.summary) ?? summary
    else if (prompt === null && r.kind === "user") prompt = promptText(r)
  }
  if (custom !== null) return { title: custom, source: "custom-title" }
  if (ai !== null) return { title: ai, source: "ai-title" }
  if (summary !== null) return { title: summary, source: "summary" }
  if (prompt !== null) return { title: prompt, source: "first-prompt" }
  return null
}

function nonEmpty(value: unknown): string | null {
  return typeof value === "string" && value.trim() !== "" ? value.trim() : null
}
