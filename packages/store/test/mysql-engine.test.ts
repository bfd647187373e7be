/** The store contract on the MySQL engine through mysql2, against a real MariaDB server. */
import { connectMysql2, type MysqlClient, MysqlEngine } from "@overlord/store/mysql"
import { runAccountStoreContract } from "./account-store-contract.ts"
import { runAiStoreContract } from "./ai-store-contract.ts"
import { runCommandStoreContract } from "./command-store-contract.ts"
import { mariaDbForTests } from "./mysql-test-server.ts"
import { runStoreContract } from "./store-contract.ts"

const clientOf = (engine: unknown) => (engine as { client: MysqlClient }).client

runStoreContract({
  name: "mysql (MariaDB through mysql2)",
  makeEngine: async () => {
    const db = await mariaDbForTests()
    return MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
  },
  makeEnginePair: async () => {
    const db = await mariaDbForTests()
    const url = db.url(await db.createDatabase())
    return Promise.all([MysqlEngine.open(connectMysql2({ url })), MysqlEngine.open(connectMysql2({ url }))])
  },
  storedTokenHashes: async (engine) =>
    (await clientOf(engine).query<{ token_hash: string }>("SELECT token_hash FROM tokens")).rows.map(
      (r) => r.token_hash,
    ),
})

runCommandStoreContract({
  name: "mysql (MariaDB through mysql2)",
  makeEngine: async () => {
    const db = await mariaDbForTests()
    return MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
  },
})

runAiStoreContract({
  name: "mysql (MariaDB through mysql2)",
  makeEngine: async () => {
    const db = await mariaDbForTests()
    return MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
  },
})

runAccountStoreContract({
  name: "mysql (MariaDB through mysql2)",
  makeEngine: async () => {
    const db = await mariaDbForTests()
    return MysqlEngine.open(connectMysql2({ url: db.url(await db.createDatabase()) }))
  },
  tableText: async (engine, table) => JSON.stringify((await clientOf(engine).query(`SELECT * FROM ${table}`)).rows),
})
