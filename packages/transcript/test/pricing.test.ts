import { describe, expect, it } from "vitest"
import { costOf, MODEL_PRICING, normaliseModelName, PRICING_DATE, PRICING_SOURCE, pricingFor } from "../src/index.ts"

const tokens = (
  model: string,
  t: Partial<{ input: number; output: number; cacheWrite: number; cacheWrite1h: number; cacheRead: number }>,
) => ({
  model,
  input: 0,
  output: 0,
  cacheWrite: 0,
  cacheWrite1h: 0,
  cacheRead: 0,
  ...t,
})

describe("pricing", () => {
  it("names its source and date", () => {
    expect(PRICING_SOURCE).toMatch(/^https:\/\/platform\.claude\.com\//)
    expect(PRICING_DATE).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    expect(new Set(MODEL_PRICING.map((p) => p.id)).size).toBe(MODEL_PRICING.length)
  })

  it.each([
    ["claude-opus-4-6", "claude-opus-4-6"],
    ["claude-opus-4-5-20251101", "claude-opus-4-5"],
    ["claude-opus-4-1-20250805", "claude-opus-4-1"],
    ["claude-opus-4-20250514", "claude-opus-4"],
    ["claude-sonnet-4-20250514", "claude-sonnet-4"],
    ["claude-sonnet-4-5-20250929", "claude-sonnet-4-5"],
    ["claude-sonnet-4-6", "claude-sonnet-4-6"],
    ["claude-haiku-4-5-20251001", "claude-haiku-4-5"],
    ["claude-3-5-haiku-20241022", "claude-3-5-haiku"],
    ["claude-3-7-sonnet-20250219", "claude-3-7-sonnet"],
    ["us.anthropic.claude-sonnet-4-5-20250929-v1:0", "claude-sonnet-4-5"],
    ["claude-opus-4-1@20250805", "claude-opus-4-1"],
    ["anthropic/claude-opus-4.5", "claude-opus-4-5"],
    ["Claude-Sonnet-4-5[1m]", "claude-sonnet-4-5"],
  ])("matches %s to %s", (model, id) => {
    expect(pricingFor(model)?.id).toBe(id)
  })

  it.each(["deepseek-v4-pro", "<synthetic>", "sonnet", "gpt-5", "claude-opus-4-9", "claude-sonnet-4-7-20270101", ""])(
    "does not price %j",
    (model) => {
      expect(pricingFor(model)).toBeNull()
      expect(costOf(tokens(model, { input: 1000, output: 1000 }))).toEqual({
        usd: 0,
        priced: false,
        longContext: false,
      })
    },
  )

  it("normalises provider decorations", () => {
    expect(normaliseModelName("eu.anthropic.claude-haiku-4-5-20251001-v1:0")).toBe("claude-haiku-4-5-20251001")
  })

  it("prices each token class, with 5m and 1h cache writes", () => {
    // Opus 4.6: $5 in, $25 out, $6.25 5m write, $10 1h write, $0.50 read per MTok.
    const c = costOf(
      tokens("claude-opus-4-6", {
        input: 1_000_000,
        output: 1_000_000,
        cacheWrite: 3_000_000,
        cacheWrite1h: 1_000_000,
        cacheRead: 1_000_000,
      }),
    )
    expect(c.priced).toBe(true)
    expect(c.usd).toBeCloseTo(5 + 25 + 2 * 6.25 + 10 + 0.5, 10)
    // Before the TTL breakdown existed, every cache write was a 5-minute write.
    expect(costOf(tokens("claude-haiku-4-5", { cacheWrite: 1_000_000 })).usd).toBeCloseTo(1.25, 10)
    expect(
      costOf(tokens("claude-3-5-haiku-20241022", { cacheWrite: 1_000_000, cacheWrite1h: 1_000_000 })).usd,
    ).toBeCloseTo(1.6, 10)
  })

  it("applies the Sonnet 4/4.5 long-context tier above 200k prompt tokens (cache included)", () => {
    const below = costOf(
      tokens("claude-sonnet-4-5-20250929", { input: 100_000, cacheRead: 100_000, output: 1_000_000 }),
    )
    expect(below.longContext).toBe(false)
    expect(below.usd).toBeCloseTo(0.3 + 0.03 + 15, 10)
    const above = costOf(tokens("claude-sonnet-4-20250514", { input: 100_001, cacheRead: 100_000, output: 1_000_000 }))
    expect(above.longContext).toBe(true)
    expect(above.usd).toBeCloseTo((100_001 * 6 + 100_000 * 0.6) / 1e6 + 22.5, 10)
    const withWrites = costOf(tokens("claude-sonnet-4-5", { input: 1, cacheWrite: 300_000, cacheWrite1h: 100_000 }))
    expect(withWrites.usd).toBeCloseTo((1 * 6 + 200_000 * 7.5 + 100_000 * 12) / 1e6, 10)
    // Opus 4.6 and Sonnet 4.6 bill the 1M window at the standard rate.
    const flat = costOf(tokens("claude-opus-4-6", { input: 500_000 }))
    expect(flat).toEqual({ usd: 2.5, priced: true, longContext: false })
  })
})
