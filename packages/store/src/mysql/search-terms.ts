/**
 * Full-text search the same on MySQL, MariaDB and PlanetScale, whatever their settings: InnoDB's
 * FULLTEXT parser drops tokens shorter than `innodb_ft_min_token_size` (3) and stopwords ("the",
 * "about", ...), MariaDB has no ngram parser for CJK, and none of this can be changed on PlanetScale.
 * So the index never sees the text itself: each token is encoded as an ASCII word of at least three
 * characters that no stopword list contains, and the query is encoded the same way and run
 * `IN BOOLEAN MODE` with one required (`+`) quoted phrase per term.
 *
 * Tokens follow SQLite's FTS5 `unicode61 remove_diacritics 2` (runs of letters and digits,
 * lower-cased, without diacritics), so the same queries find the same lines; runs of CJK characters
 * (written without spaces) are cut into overlapping bigrams, so a word inside a sentence is found
 * (SQLite's tokenizer keeps such a run as one token, so this finds more). The index also holds each
 * CJK character of those runs once, after the text's own tokens (so phrases keep their adjacency),
 * so a one-character query, common in Chinese and Japanese, is found too.
 */
import { createHash } from "node:crypto"

/** InnoDB ignores longer tokens (`innodb_ft_max_token_size`, 84 characters by default). */
const MAX_TOKEN = 84
const TOKEN = /[\p{L}\p{N}]+/gu
const CJK =
  /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}]+|[^\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}]+/gu
const DIACRITICS = /\p{M}+/gu
const PLAIN = /^[a-z0-9]+$/
const utf8 = new TextEncoder()

/**
 * `ww` + a plain ASCII word, `uu` + the hex of any other word's UTF-8, `hh` + a hash of a word too
 * long for InnoDB: three tags that no encoded word can be mistaken for another's.
 */
function encodeWord(word: string): string {
  const encoded = PLAIN.test(word) ? `ww${word}` : `uu${Buffer.from(utf8.encode(word)).toString("hex")}`
  return encoded.length <= MAX_TOKEN ? encoded : `hh${createHash("sha256").update(word).digest("hex").slice(0, 40)}`
}

/** The encoded tokens of `text`, in order; `unigrams`, when given, collects the characters of its CJK runs. */
export function searchTokens(text: string, unigrams?: Set<string>): string[] {
  const out: string[] = []
  const folded = text.normalize("NFD").replace(DIACRITICS, "").toLowerCase()
  for (const [token] of folded.matchAll(TOKEN)) {
    for (const [run] of token.matchAll(CJK)) {
      const first = run.codePointAt(0)!
      if (!isCjk(first)) {
        out.push(encodeWord(run))
        continue
      }
      const chars = [...run]
      if (chars.length === 1) {
        out.push(encodeWord(run))
        continue
      }
      for (let i = 0; i + 1 < chars.length; i++) out.push(encodeWord(chars[i]! + chars[i + 1]!))
      if (unigrams) for (const c of chars) unigrams.add(encodeWord(c))
    }
  }
  return out
}

const CJK_CHAR = /[\p{sc=Han}\p{sc=Hiragana}\p{sc=Katakana}\p{sc=Hangul}]/u
const isCjk = (codePoint: number) => CJK_CHAR.test(String.fromCodePoint(codePoint))

/** What the index stores for an entry's search text: its tokens, then its CJK characters once each. */
export function searchTermsOf(text: string): string {
  const unigrams = new Set<string>()
  const tokens = searchTokens(text, unigrams)
  return unigrams.size === 0 ? tokens.join(" ") : `${tokens.join(" ")} ${[...unigrams].join(" ")}`
}

/**
 * A user's query as an InnoDB boolean-mode expression: every term (a word or a "quoted phrase",
 * as `ftsQuery` reads them) required, each as a phrase of its encoded tokens. Null when the query
 * has nothing to search for.
 */
export function booleanQuery(q: string): string | null {
  const parts: string[] = []
  for (const m of q.matchAll(/"([^"]+)"|(\S+)/g)) {
    const tokens = searchTokens(m[1] ?? m[2] ?? "")
    if (tokens.length > 0) parts.push(`+"${tokens.join(" ")}"`)
  }
  return parts.length === 0 ? null : parts.join(" ")
}
