/** What entry renderers need from the transcript around them: tool pairing and the subagent feed. */
import type { Api } from "@overlord/protocol"
import { createContext, useContext } from "react"
import { emptyPairs, type ToolPairs } from "../pairing.ts"

export type AgentFeed = (agentId: string, fn: (entries: readonly Api.Entry[]) => void) => () => void

export type TranscriptContextValue = {
  readonly sessionId: string
  readonly pairs: ToolPairs
  /** Live entries of subagent files, for expanded subagent panels. */
  readonly onAgentEntries: AgentFeed
  /** Nesting level: 0 for the main transcript. */
  readonly depth: number
  /** Entries that show their response's usage line (last block of each response); null: all. */
  readonly usageSeqs?: ReadonlySet<number> | null
  /** The header's "show bookkeeping" toggle: every bookkeeping group open. */
  readonly showBookkeeping: boolean
  /**
   * The session has written nothing for longer than any tool runs (`TOOL_QUIET_MS`): a call still without
   * its result will not get one (interrupted, Claude Code closed). Absent: the transcript may still grow.
   */
  readonly ended?: boolean
}

/**
 * Claude Code's Bash tool stops a command at 10 minutes at most; a session quiet for longer than that is
 * not waiting on a tool. (A shorter wait would flip a long build's "running…" to "no result" and back.)
 */
export const TOOL_QUIET_MS = 10 * 60_000

export const TranscriptContext = createContext<TranscriptContextValue>({
  sessionId: "",
  pairs: emptyPairs,
  onAgentEntries: () => () => undefined,
  depth: 0,
  showBookkeeping: false,
})

export const useTranscript = (): TranscriptContextValue => useContext(TranscriptContext)
