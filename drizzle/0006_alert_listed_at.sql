ALTER TABLE "alert_states" ADD COLUMN "listed_at" timestamp with time zone;--> statement-breakpoint
CREATE INDEX "alert_states_listed_at_idx" ON "alert_states" USING btree ("listed_at");--> statement-breakpoint
-- Alerts firing before this column existed get a whole ALERTMANAGER_ALERT_STALE_AFTER from the upgrade: their last listing is unknown (updated_at is their last change, often older).
UPDATE "alert_states" SET "listed_at" = now() WHERE "group_key" IS NOT NULL AND "status" = 'firing';
