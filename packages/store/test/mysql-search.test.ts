/**
 * Full-text search on MySQL/MariaDB/PlanetScale finds what SQLite's FTS5 finds, although InnoDB drops
 * stopwords and tokens under three characters and MariaDB has no CJK parser: the index holds encoded
 * tokens (`search-terms.ts`). English, stopword-like and short terms, phrases and CJK text are found,
 * through both connectors.
 */
import type { MachineActor } from "@overlord/store"
import { connectMysql2, connectPlanetscale, MysqlEngine } from "@overlord/store/mysql"
import { booleanQuery, searchTermsOf, searchTokens } from "@overlord/store/mysql/search-terms"
import { startPlanetScaleBridge } from "@overlord/testkit/planetscale-bridge"
import { afterEach, describe, expect, it } from "vitest"
import { mariaDbForTests } from "./mysql-test-server.ts"

const SID = "11111111-2222-3333-4444-555555555555"
const KEY = `-home-dev-proj/${SID}.jsonl`
const enc = new TextEncoder()

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

const connectors: Record<string, () => Promise<MysqlEngine>> = {
  mysql2: async () => {
    const db = await mariaDbForTests()
    const engine = await MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
    cleanups.push(async () => engine.close())
    return engine
  },
  planetscale: async () => {
    const mariadb = await mariaDbForTests()
    const bridge = await startPlanetScaleBridge({ mariadb, database: await mariadb.createDatabase() })
    const engine = await MysqlEngine.open(connectPlanetscale({ url: bridge.url }))
    cleanups.push(
      async () => engine.close(),
      () => bridge.stop(),
    )
    return engine
  },
}

const user = (uuid: string, text: string) =>
  JSON.stringify({
    type: "user",
    uuid,
    parentUuid: null,
    sessionId: SID,
    timestamp: "2026-11-01T10:00:00.000Z",
    message: { role: "user", content: text },
  })

const TEXTS = [
  "The quick brown fox jumps over the lazy dog",
  "What is this about? Go and see.",
  "日本語のテキストを全文検索する",
  "数据库连接失败了",
  "黒い猫が好き",
  "Café crème, naïve façade",
]

async function indexed(engine: MysqlEngine): Promise<MachineActor> {
  const userId = await engine.ensureUser("alice")
  const actor = { userId, machineId: (await engine.openMachine({ userId }, "m-1", "laptop")).machineId }
  const payload = enc.encode(TEXTS.map((t, i) => `${user(`u${i}`, t)}\n`).join(""))
  const [out] = await engine.append(actor, [
    {
      header: {
        type: "append",
        seq: 0,
        fileKey: KEY,
        generation: 0,
        identity: "1:1",
        fromOffset: 0,
        toOffset: payload.length,
      },
      payload,
    },
  ])
  expect(out!._tag).toBe("Ack")
  while ((await engine.indexForSearch(100)) > 0) {}
  return actor
}

describe("search terms", () => {
  it("encodes every token as an ASCII word of at least three characters, stopwords included", () => {
    expect(searchTokens("The a GO")).toEqual(["wwthe", "wwa", "wwgo"])
    for (const t of searchTokens("The a GO Café 日本語 x".repeat(3))) expect(t).toMatch(/^[a-z0-9]{3,84}$/)
  })

  it("folds case and diacritics as FTS5's unicode61 remove_diacritics does", () => {
    expect(searchTokens("Café NAÏVE")).toEqual(searchTokens("cafe naive"))
  })

  it("cuts CJK runs into overlapping bigrams, so a word inside a sentence matches", () => {
    const sentence = searchTokens("全文検索する")
    const word = searchTokens("検索")
    expect(word).toHaveLength(1)
    expect(sentence).toContain(word[0])
    expect(sentence).toHaveLength(5)
  })

  it("indexes each CJK character of a run once, after the text's tokens, so phrases stay adjacent", () => {
    const [bigram] = searchTokens("猫が")
    const [cat] = searchTokens("猫")
    expect(searchTermsOf("猫が 猫が")).toBe(`${bigram} ${bigram} ${cat} ${searchTokens("が")[0]}`)
    expect(searchTermsOf("plain words")).toBe("wwplain wwwords")
  })

  it("keeps tokens longer than InnoDB's limit as a hash, the same in text and query", () => {
    const long = "x".repeat(500)
    const [token] = searchTokens(long)
    expect(token!.length).toBeLessThanOrEqual(84)
    expect(booleanQuery(long)).toBe(`+"${token}"`)
  })

  it("makes every term required and a quoted phrase one term", () => {
    expect(booleanQuery('fox "lazy dog"')).toBe('+"wwfox" +"wwlazy wwdog"')
    expect(booleanQuery("  ?! ")).toBeNull()
  })
})

for (const [name, open] of Object.entries(connectors)) {
  describe(`search through ${name}`, () => {
    it("finds English words, stopword-like and short terms, phrases and CJK text, with snippets", async () => {
      const engine = await open()
      const actor = await indexed(engine)
      const found = async (q: string) => (await engine.search(actor, q, 10)).hits.map((h) => h.snippet)
      expect(await found("fox")).toEqual([expect.stringContaining("«fox»")])
      expect(await found("FOX jumps")).toHaveLength(1)
      // InnoDB's default stopwords ("the", "about", "is") and tokens under three characters ("go").
      expect(await found("the")).toHaveLength(1)
      expect(await found("about")).toHaveLength(1)
      expect(await found("go")).toEqual([expect.stringContaining("«Go»")])
      expect(await found('"lazy dog"')).toHaveLength(1)
      expect(await found('"dog lazy"')).toHaveLength(0)
      expect(await found("検索")).toEqual([expect.stringContaining("«検索»")])
      expect(await found("テキスト")).toHaveLength(1)
      expect(await found("数据库")).toHaveLength(1)
      // One character inside a run: a word of its own in Chinese and Japanese.
      expect(await found("猫")).toEqual([expect.stringContaining("«猫»")])
      expect(await found("犬")).toHaveLength(0)
      expect(await found("cafe")).toHaveLength(1)
      expect(await found("wolf")).toHaveLength(0)
      expect((await engine.search(actor, "fox", 10)).indexLag).toBe(0)
    })
  })
}
