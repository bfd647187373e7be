/**
 * Anthropic list prices, USD per million tokens, for turning `MessageUsage` into dollars.
 *
 * Prices are today's published list prices applied to all history: Claude Code records carry no
 * price, and batch, priority-tier and third-party (Bedrock/Vertex regional) surcharges are ignored.
 * Models not in the table (DeepSeek and other Anthropic-compatible backends, aliases like `sonnet`,
 * models newer than `PRICING_DATE`) cost 0 and come back `priced: false` so a UI can flag them.
 */
import type { MessageUsage } from "./usage.ts"

export const PRICING_SOURCE = "https://platform.claude.com/docs/en/about-claude/pricing"
/** When the table below was checked against `PRICING_SOURCE`. */
export const PRICING_DATE = "2026-11-23"

export interface ModelPrice {
  readonly input: number
  readonly output: number
  readonly cacheWrite5m: number
  readonly cacheWrite1h: number
  readonly cacheRead: number
}

export interface ModelPricing {
  /** Canonical id prefix, e.g. `claude-sonnet-4-5`; dated ids (`claude-sonnet-4-5-20250929`) match it. */
  readonly id: string
  readonly name: string
  readonly base: ModelPrice
  /**
   * Premium rates for a request whose input (incl. cache reads and writes) exceeds `thresholdTokens`;
   * they then apply to every token of that request, output included.
   */
  readonly longContext: { readonly thresholdTokens: number; readonly price: ModelPrice } | null
}

const price = (input: number, cacheWrite5m: number, cacheWrite1h: number, cacheRead: number, output: number) =>
  ({ input, cacheWrite5m, cacheWrite1h, cacheRead, output }) satisfies ModelPrice

const entry = (id: string, name: string, base: ModelPrice, longContext: ModelPrice | null = null): ModelPricing => ({
  id,
  name,
  base,
  longContext: longContext === null ? null : { thresholdTokens: 200_000, price: longContext },
})

const OPUS_45 = price(5, 6.25, 10, 0.5, 25)
const OPUS_4 = price(15, 18.75, 30, 1.5, 75)
const SONNET_4 = price(3, 3.75, 6, 0.3, 15)
// Sonnet 4 / 4.5 with the 1M-context beta: 2x input, 1.5x output; the cache multipliers stack on top.
const SONNET_4_LONG = price(6, 7.5, 12, 0.6, 22.5)

/**
 * Column order in `price(...)` follows the source table: input, 5m cache write, 1h cache write,
 * cache hit, output. Sonnet 4.6 and Opus 4.6+ bill the whole 1M window at the standard rate, so
 * only Sonnet 4 and 4.5 carry a long-context tier. Sonnet 5 comes from its model page (same source).
 */
export const MODEL_PRICING: readonly ModelPricing[] = [
  entry("claude-fable-5-1", "Claude Fable 5.1", price(10, 12.5, 20, 0.25, 50)),
  entry("claude-mythos-5-1", "Claude Mythos 5.1", price(10, 12.5, 20, 0.25, 50)),
  entry("claude-fable-5", "Claude Fable 5", price(10, 12.5, 20, 1, 50)),
  entry("claude-mythos-5", "Claude Mythos 5", price(10, 12.5, 20, 1, 50)),
  // Opus 5.5's cache read is 0.05x input, not the usual 0.1x (its model page, same source).
  entry("claude-opus-5-5", "Claude Opus 5.5", price(4, 5, 8, 0.2, 20)),
  entry("claude-opus-5", "Claude Opus 5", OPUS_45),
  entry("claude-opus-4-8", "Claude Opus 4.8", OPUS_45),
  entry("claude-opus-4-7", "Claude Opus 4.7", OPUS_45),
  entry("claude-opus-4-6", "Claude Opus 4.6", OPUS_45),
  entry("claude-opus-4-5", "Claude Opus 4.5", OPUS_45),
  entry("claude-opus-4-1", "Claude Opus 4.1", OPUS_4),
  entry("claude-opus-4", "Claude Opus 4", OPUS_4),
  entry("claude-sonnet-5", "Claude Sonnet 5", price(2, 2.5, 4, 0.2, 10)),
  entry("claude-sonnet-4-6", "Claude Sonnet 4.6", SONNET_4),
  entry("claude-sonnet-4-5", "Claude Sonnet 4.5", SONNET_4, SONNET_4_LONG),
  entry("claude-sonnet-4", "Claude Sonnet 4", SONNET_4, SONNET_4_LONG),
  entry("claude-3-7-sonnet", "Claude Sonnet 3.7", SONNET_4),
  entry("claude-haiku-4-5", "Claude Haiku 4.5", price(1, 1.25, 2, 0.1, 5)),
  entry("claude-3-5-haiku", "Claude Haiku 3.5", price(0.8, 1, 1.6, 0.08, 4)),
  entry("claude-3-opus", "Claude Opus 3", OPUS_4),
  entry("claude-3-haiku", "Claude Haiku 3", price(0.25, 0.3, 0.5, 0.03, 1.25)),
]

// Longest id first so `claude-opus-4-1-…` never matches `claude-opus-4`.
const BY_LENGTH = [...MODEL_PRICING].sort((a, b) => b.id.length - a.id.length)

/**
 * Lower-cases and strips provider decorations: Bedrock `us.anthropic.` prefixes and `-v1:0`
 * suffixes, Vertex `@date`, `anthropic/` routing prefixes, Claude Code's `[1m]` suffix, and dots in
 * versions (`claude-opus-4.5` -> `claude-opus-4-5`).
 */
export function normaliseModelName(model: string): string {
  let m = model.trim().toLowerCase()
  m = m.replace(/\[[^\]]*\]$/, "")
  m = m.replace(/^.*\//, "")
  m = m.replace(/^(?:[a-z]{2,4}\.)?anthropic\./, "")
  m = m.replace(/-v\d+(?::\d+)?$/, "")
  m = m.replace(/@/g, "-").replace(/\./g, "-")
  return m
}

const resolved = new Map<string, ModelPricing | null>()

/** The pricing entry for a model id, or null when unknown. Memoised: stores price every response. */
export function pricingFor(model: string): ModelPricing | null {
  let found = resolved.get(model)
  if (found === undefined) {
    found = lookupPricing(model)
    if (resolved.size < 10_000) resolved.set(model, found)
  }
  return found
}

function lookupPricing(model: string): ModelPricing | null {
  const m = normaliseModelName(model)
  for (const p of BY_LENGTH) {
    if (m === p.id) return p
    if (!m.startsWith(`${p.id}-`)) continue
    // `claude-opus-4-20250514` is Opus 4, but `claude-opus-4-9` is a newer model we don't know:
    // a 1–2 digit segment after the id is a minor version, not a date or a tag.
    const next = m.slice(p.id.length + 1).split("-")[0] ?? ""
    if (/^\d{1,2}$/.test(next)) continue
    return p
  }
  return null
}

export interface Cost {
  readonly usd: number
  /** False when the model is not in `MODEL_PRICING` (`usd` is then 0). */
  readonly priced: boolean
  /** True when the long-context tier applied. */
  readonly longContext: boolean
}

type CostInput = Pick<MessageUsage, "model" | "input" | "output" | "cacheWrite" | "cacheWrite1h" | "cacheRead">

export function costOf(usage: CostInput): Cost {
  const pricing = usage.model === null ? null : pricingFor(usage.model)
  if (pricing === null) return { usd: 0, priced: false, longContext: false }
  const promptTokens = usage.input + usage.cacheWrite + usage.cacheRead
  const long = pricing.longContext !== null && promptTokens > pricing.longContext.thresholdTokens
  const p = long && pricing.longContext !== null ? pricing.longContext.price : pricing.base
  // Cache writes without a TTL breakdown (before 1.0.98) were all 5-minute writes.
  const write1h = Math.min(usage.cacheWrite1h, usage.cacheWrite)
  const write5m = usage.cacheWrite - write1h
  const usd =
    (usage.input * p.input +
      usage.output * p.output +
      write5m * p.cacheWrite5m +
      write1h * p.cacheWrite1h +
      usage.cacheRead * p.cacheRead) /
    1_000_000
  return { usd, priced: true, longContext: long }
}
