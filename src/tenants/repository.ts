import { eq, sql } from 'drizzle-orm'
import type { Executor } from '../db/client.ts'
import { preparedPerExecutor } from '../db/prepared.ts'
import { tenantSettings, tenants } from '../db/schema.ts'

export type TenantRow = typeof tenants.$inferSelect
export type TenantSettingsRow = typeof tenantSettings.$inferSelect

export function createTenantRepository() {
  // Every authenticated request runs this lookup: prepared, so drizzle builds it once.
  const byKeyHash = preparedPerExecutor((db) =>
    db
      .select()
      .from(tenants)
      .where(eq(tenants.apiKeyHash, sql.placeholder('apiKeyHash')))
      .limit(1)
      .prepare('tenant_by_api_key_hash'),
  )
  return {
    async insert(db: Executor, tenant: { name: string; apiKeyHash: string }, ownerPhone: string) {
      const [row] = await db.insert(tenants).values(tenant).returning()
      await db.insert(tenantSettings).values({ tenantId: row!.id, ownerPhone })
      return row!
    },
    async findByKeyHash(db: Executor, apiKeyHash: string) {
      const [row] = await byKeyHash(db).execute({ apiKeyHash })
      return row
    },
    async findWithSettings(db: Executor, tenantId: string) {
      const [row] = await db
        .select()
        .from(tenants)
        .innerJoin(tenantSettings, eq(tenantSettings.tenantId, tenants.id))
        .where(eq(tenants.id, tenantId))
        .limit(1)
      return row ? { tenant: row.tenants, settings: row.tenant_settings } : undefined
    },
    async updateSettings(db: Executor, tenantId: string, changes: Partial<TenantSettingsRow>) {
      const [row] = await db
        .update(tenantSettings)
        .set({ ...changes, updatedAt: new Date() })
        .where(eq(tenantSettings.tenantId, tenantId))
        .returning()
      return row
    },
    async any(db: Executor) {
      const rows = await db.select({ id: tenants.id }).from(tenants).limit(1)
      return rows.length > 0
    },
  }
}
