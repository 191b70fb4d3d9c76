ALTER TABLE "alert_states" ADD COLUMN "group_key" text;--> statement-breakpoint
ALTER TABLE "alert_states" ADD COLUMN "resolved_unlisted" boolean DEFAULT false NOT NULL;--> statement-breakpoint
CREATE INDEX "alert_states_group_key_idx" ON "alert_states" USING btree ("group_key");