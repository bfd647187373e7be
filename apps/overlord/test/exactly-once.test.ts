/**
 * Exactly-once sync on the SQLite engine (`overlord serve --database F`): the cases are in
 * `support/exactly-once-suite.ts`, shared with the MariaDB run (`exactly-once-mariadb.test.ts`).
 */
import { describeExactlyOnce } from "./support/exactly-once-suite.ts"
import { sqliteDatabase } from "./support/server-database.ts"

describeExactlyOnce("SQLite", async (database) => sqliteDatabase(database), { lineLogCut: true })
