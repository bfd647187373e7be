/**
 * Titles and summaries for sessions that have none of their own: the prompt, a strict parser of
 * the model's answer (JSON mode; anything else is a typed error, never a crash) and the rule that
 * says when a session has grown enough to be summarised again.
 */
import { Data, Effect, Result } from "effect"
import { type ChatMessage, OllamaClient, type OllamaError } from "./ollama-client.ts"
import { type DigestOptions, digestItems, type SessionRecord, sessionDigest } from "./session-digest.ts"

export const TITLE_SYSTEM_PROMPT = [
  "You name and summarise a coding session between a person and the Claude Code assistant.",
  'Reply with JSON only: {"title": "...", "summary": "..."}.',
  "title: at most 8 words, no quotes, no final period; says what the work was about",
  '(for example "Fix flaky upload test on CI").',
  "summary: 2 or 3 plain sentences: what was asked, what was done, how it ended.",
].join("\n")

/** Ollama's structured output: the model can only produce this shape. */
export const TITLE_FORMAT = {
  type: "object",
  properties: { title: { type: "string" }, summary: { type: "string" } },
  required: ["title", "summary"],
} as const

export function titleMessages(digest: string): ChatMessage[] {
  return [
    { role: "system", content: TITLE_SYSTEM_PROMPT },
    { role: "user", content: `The session:\n\n${digest}` },
  ]
}

export interface TitleAnswer {
  readonly title: string
  readonly summary: string
}

export class TitleAnswerInvalid extends Data.TaggedError("TitleAnswerInvalid")<{
  readonly message: string
  /** What the model said (cut to 500 characters). */
  readonly answer: string
  readonly cause?: unknown
}> {}

export const TITLE_MAX = 100
export const SUMMARY_MAX = 1_000

/** Accepts exactly a JSON object with a non-empty string `title` and `summary` (a ```json fence aside). */
export function parseTitleAnswer(text: string): Result.Result<TitleAnswer, TitleAnswerInvalid> {
  const answer = text.length > 500 ? `${text.slice(0, 500)}…` : text
  const invalid = (message: string, cause?: unknown) =>
    Result.fail(new TitleAnswerInvalid({ message, answer, ...(cause === undefined ? {} : { cause }) }))
  const body = text
    .trim()
    .replace(/^```(?:json)?\s*\n([\s\S]*)\n```$/, "$1")
    .trim()
  let value: unknown
  try {
    value = JSON.parse(body)
  } catch (cause) {
    return invalid("the answer is not JSON", cause)
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return invalid("the answer is not an object")
  const { title, summary } = value as Record<string, unknown>
  if (typeof title !== "string" || typeof summary !== "string") return invalid("title or summary is not a string")
  const cleanTitle = title
    .replace(/\s+/g, " ")
    .trim()
    .replace(/^["'“”‘’`]+|["'“”‘’`]+$/g, "")
    .replace(/[.。]+$/, "")
    .trim()
  const cleanSummary = summary.replace(/\s+/g, " ").trim()
  if (cleanTitle === "") return invalid("the title is empty")
  if (cleanSummary === "") return invalid("the summary is empty")
  if (cleanTitle.length > TITLE_MAX) return invalid(`the title is longer than ${TITLE_MAX} characters`)
  if (cleanSummary.length > SUMMARY_MAX) return invalid(`the summary is longer than ${SUMMARY_MAX} characters`)
  return Result.succeed({ title: cleanTitle, summary: cleanSummary })
}

/** A session is summarised again once it has 25 % more entries, or 20 more, than when last summarised. */
export const GROWTH_RATIO = 1.25
export const GROWTH_ENTRIES = 20

export function hasGrownMaterially(entriesThen: number, entriesNow: number): boolean {
  if (entriesNow <= entriesThen) return false
  return entriesNow - entriesThen >= GROWTH_ENTRIES || entriesNow >= entriesThen * GROWTH_RATIO
}

/** Whether a session needs a (new) generated title: never generated, or grown materially since. */
export function needsTitle(session: {
  readonly hasOwnTitle: boolean
  readonly entryCount: number
  readonly titledAtEntries: number | null
}): boolean {
  if (session.hasOwnTitle) return false
  return session.titledAtEntries === null || hasGrownMaterially(session.titledAtEntries, session.entryCount)
}

export interface GeneratedTitle extends TitleAnswer {
  readonly model: string
}

/** Digest, ask the chat model, parse. */
export const generateTitle = (
  records: readonly SessionRecord[],
  options: DigestOptions = {},
): Effect.Effect<GeneratedTitle, OllamaError | TitleAnswerInvalid, OllamaClient> =>
  Effect.gen(function* () {
    const ollama = yield* OllamaClient
    const digest = sessionDigest(digestItems(records), options)
    const text = yield* ollama.chat(titleMessages(digest.text), { format: TITLE_FORMAT })
    const answer = yield* Effect.fromResult(parseTitleAnswer(text))
    return { ...answer, model: ollama.config.chatModel }
  })
