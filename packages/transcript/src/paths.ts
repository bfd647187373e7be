/**
 * File keys (paths relative to `~/.claude/projects/`, POSIX separators) and project directory names.
 * Reference §1.2, §1.3 and §7.
 */

export type FileLayout =
  /** `<enc>/<sessionId>.jsonl`: a main transcript. */
  | "session"
  /** `<enc>/<sessionId>/subagents/[workflows/<runId>/]agent-<agentId>.jsonl` (2.1.x). */
  | "subagent"
  /** `<enc>/agent-<agentId>.jsonl` (2.0.x): the parent session id is only in the records. */
  | "flat-agent"
  /** Anything else: `tool-results/`, `.meta.json`, workflow journals, unexpected nesting. */
  | "other"

export interface FileKeyInfo {
  /** First path segment: the encoded cwd (`""` for a key without one). */
  readonly projectDir: string
  readonly sessionId: string | null
  readonly agentId: string | null
  /** Set for `subagents/workflows/<runId>/agent-*.jsonl`. */
  readonly workflowRunId: string | null
  readonly layout: FileLayout
}

const AGENT_FILE = /^agent-(.+)\.jsonl$/

export function classifyFileKey(fileKey: string): FileKeyInfo {
  const parts = fileKey.split("/")
  const projectDir = parts.length > 1 ? (parts[0] ?? "") : ""
  const other = (sessionId: string | null = null): FileKeyInfo => ({
    projectDir,
    sessionId,
    agentId: null,
    workflowRunId: null,
    layout: "other",
  })
  if (parts.length < 2 || parts.some((p) => p === "" || p === "." || p === "..")) return other()
  const [, second = "", third, fourth, fifth, sixth] = parts
  if (parts.length === 2) {
    const agent = AGENT_FILE.exec(second)
    if (agent !== null) {
      return { projectDir, sessionId: null, agentId: agent[1] ?? null, workflowRunId: null, layout: "flat-agent" }
    }
    if (second.endsWith(".jsonl") && second.length > ".jsonl".length) {
      return {
        projectDir,
        sessionId: second.slice(0, -".jsonl".length),
        agentId: null,
        workflowRunId: null,
        layout: "session",
      }
    }
    return other()
  }
  // Deeper keys live in a per-session directory named after the session id.
  const sessionId = second
  if (third !== "subagents") return other(sessionId)
  if (parts.length === 4 && fourth !== undefined) {
    const agent = AGENT_FILE.exec(fourth)
    if (agent !== null) {
      return { projectDir, sessionId, agentId: agent[1] ?? null, workflowRunId: null, layout: "subagent" }
    }
  }
  if (parts.length === 6 && fourth === "workflows" && fifth !== undefined && sixth !== undefined) {
    const agent = AGENT_FILE.exec(sixth)
    if (agent !== null) {
      return { projectDir, sessionId, agentId: agent[1] ?? null, workflowRunId: fifth, layout: "subagent" }
    }
  }
  return other(sessionId)
}

/** True for transcripts worth tailing: main sessions and agent files, not side files. */
export function isSessionFileKey(fileKey: string): boolean {
  return fileKey.endsWith(".jsonl") && classifyFileKey(fileKey).layout !== "other"
}

/** Longest encoded name Claude Code 2.1.x keeps before appending a hash (`MAX_SANITIZED_LENGTH`). */
export const PROJECT_DIR_MAX = 200

/**
 * Claude Code's `sanitizePath`: every UTF-16 unit that is not `[A-Za-z0-9]` becomes `-`; past 200
 * units, 2.1.x keeps the first 200 and appends `-<hash36(cwd)>`.
 *
 * The suffix here is the Node/SDK `|djb2|`; the CLI uses `Bun.hash`, which differs and cannot be
 * reproduced in a browser, so for long paths compare with `projectDirMatches` (prefix), not `===`.
 * Callers should canonicalise the cwd (realpath, NFC) first, as Claude Code does.
 */
export function encodeProjectDir(cwd: string): string {
  const encoded = cwd.replace(/[^a-zA-Z0-9]/g, "-")
  if (encoded.length <= PROJECT_DIR_MAX) return encoded
  return `${encoded.slice(0, PROJECT_DIR_MAX)}-${Math.abs(djb2(cwd)).toString(36)}`
}

/** Whether a directory name can belong to `cwd`, tolerating the unreproducible long-path hash. */
export function projectDirMatches(dirName: string, cwd: string): boolean {
  const encoded = cwd.replace(/[^a-zA-Z0-9]/g, "-")
  if (encoded.length <= PROJECT_DIR_MAX) return dirName === encoded
  return dirName.startsWith(`${encoded.slice(0, PROJECT_DIR_MAX)}-`)
}

function djb2(text: string): number {
  let hash = 0
  for (let i = 0; i < text.length; i++) hash = ((hash << 5) - hash + text.charCodeAt(i)) | 0
  return hash
}

/**
 * A display guess at the cwd behind a directory name. Lossy: `-` stood for `/`, `\`, `.`, `_`, space,
 * `:` and every non-ASCII character, so `-Users-a-my-app` may have been `/Users/a/my_app`. Prefer
 * the records' `cwd` whenever there is one.
 */
export function decodeProjectDirHint(name: string): string {
  const windows = /^([A-Za-z])--(.*)$/.exec(name)
  if (windows !== null) return `${windows[1]}:\\${(windows[2] ?? "").replace(/-/g, "\\")}`
  return name.replace(/-/g, "/")
}
