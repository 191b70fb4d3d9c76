CREATE TABLE "alert_outbox" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"dedupe_key" text NOT NULL,
	"recipient" text NOT NULL,
	"tenant_id" uuid,
	"fingerprint" text NOT NULL,
	"alertname" text NOT NULL,
	"severity" text NOT NULL,
	"transition" text NOT NULL,
	"content" jsonb NOT NULL,
	"status" text DEFAULT 'pending' NOT NULL,
	"attempts" integer DEFAULT 0 NOT NULL,
	"next_attempt_at" timestamp with time zone NOT NULL,
	"lease_until" timestamp with time zone,
	"mode" text,
	"rendered" text,
	"group_id" uuid,
	"wa_message_id" text,
	"last_error_code" text,
	"last_error_message" text,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	"sent_at" timestamp with time zone,
	CONSTRAINT "alert_outbox_dedupe_key_unique" UNIQUE("dedupe_key")
);
--> statement-breakpoint
CREATE TABLE "alert_states" (
	"fingerprint" text PRIMARY KEY NOT NULL,
	"alertname" text NOT NULL,
	"severity" text NOT NULL,
	"tenant_id" uuid,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"status" text NOT NULL,
	"starts_at" timestamp with time zone NOT NULL,
	"resolved_at" timestamp with time zone,
	"last_notified_at" timestamp with time zone,
	"repeat_cycle" integer DEFAULT 0 NOT NULL,
	"acked_at" timestamp with time zone,
	"silenced_until" timestamp with time zone,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "whatsapp_contacts" (
	"phone" text PRIMARY KEY NOT NULL,
	"last_inbound_at" timestamp with time zone NOT NULL
);
--> statement-breakpoint
CREATE INDEX "alert_outbox_due_idx" ON "alert_outbox" USING btree ("status","next_attempt_at");--> statement-breakpoint
CREATE INDEX "alert_outbox_wamid_idx" ON "alert_outbox" USING btree ("wa_message_id");--> statement-breakpoint
CREATE INDEX "alert_outbox_fingerprint_idx" ON "alert_outbox" USING btree ("fingerprint","transition");