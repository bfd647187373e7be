/** Users and tokens in SQLite (`AccountStore`): tokens are kept as SHA-256 hashes only (`../tokens.ts`). */
import type { Database } from "bun:sqlite"
import type { AccountStore, IssueToken, TokenGrant, TokenKind } from "../store.ts"
import { hashToken, newToken, tokensEqual } from "../tokens.ts"

const now = () => new Date().toISOString()

interface TokenRow {
  id: number
  user_id: number
  kind: TokenKind
  token_hash: string
  machine_uid: string | null
  expires_at: string | null
  used_at: string | null
  revoked_at: string | null
}

export class SqliteAccounts implements AccountStore {
  constructor(private readonly db: Database) {}

  ensureUser(name: string): number {
    const found = this.db.query("SELECT id FROM users WHERE name = ?").get(name) as { id: number } | null
    if (found) return found.id
    const row = this.db.query("INSERT INTO users (name, created_at) VALUES (?, ?) RETURNING id").get(name, now()) as {
      id: number
    }
    return row.id
  }

  issueToken(input: IssueToken): string {
    const token = newToken(input.kind)
    const expires = input.ttlMs === undefined ? null : new Date(Date.now() + input.ttlMs).toISOString()
    this.db
      .query(
        "INSERT INTO tokens (user_id, kind, token_hash, machine_uid, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)",
      )
      .run(input.userId, input.kind, hashToken(token), input.machineUid ?? null, now(), expires)
    return token
  }

  private findToken(plaintext: string, kinds: readonly TokenKind[]): TokenRow | null {
    const hash = hashToken(plaintext)
    const row = this.db
      .query(
        "SELECT id, user_id, kind, token_hash, machine_uid, expires_at, used_at, revoked_at FROM tokens WHERE token_hash = ?",
      )
      .get(hash) as TokenRow | null
    if (!row || !tokensEqual(row.token_hash, hash)) return null
    if (!kinds.includes(row.kind) || row.revoked_at) return null
    if (row.expires_at && row.expires_at < now()) return null
    return row
  }

  verifyToken(plaintext: string, kinds: readonly TokenKind[]): TokenGrant | null {
    const row = this.findToken(plaintext, kinds)
    if (!row || row.used_at) return null
    return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
  }

  consumeToken(plaintext: string, kind: TokenKind): TokenGrant | null {
    return this.db
      .transaction(() => {
        const row = this.findToken(plaintext, [kind])
        if (!row || row.used_at) return null
        this.db.query("UPDATE tokens SET used_at = ? WHERE id = ?").run(now(), row.id)
        return { userId: row.user_id, kind: row.kind, machineUid: row.machine_uid }
      })
      .immediate()
  }
}
