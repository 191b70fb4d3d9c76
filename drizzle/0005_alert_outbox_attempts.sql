CREATE TABLE "alert_outbox_attempts" (
	"outbox_id" uuid NOT NULL,
	"group_id" uuid NOT NULL,
	"wa_message_id" text,
	"status" text NOT NULL,
	"created_at" timestamp with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "alert_outbox_attempts_outbox_id_group_id_pk" PRIMARY KEY("outbox_id","group_id")
);
--> statement-breakpoint
ALTER TABLE "alert_outbox_attempts" ADD CONSTRAINT "alert_outbox_attempts_outbox_id_alert_outbox_id_fk" FOREIGN KEY ("outbox_id") REFERENCES "public"."alert_outbox"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "alert_outbox_attempts_wamid_idx" ON "alert_outbox_attempts" USING btree ("wa_message_id");--> statement-breakpoint
CREATE INDEX "alert_outbox_attempts_group_idx" ON "alert_outbox_attempts" USING btree ("group_id");