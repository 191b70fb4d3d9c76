CREATE TABLE "alert_rule_states" (
	"rule_group" text NOT NULL,
	"rule_name" text NOT NULL,
	"fingerprint" text NOT NULL,
	"labels" jsonb NOT NULL,
	"annotations" jsonb NOT NULL,
	"state" text NOT NULL,
	"active_at" timestamp with time zone NOT NULL,
	"fired_at" timestamp with time zone,
	"resolved_at" timestamp with time zone,
	"keep_firing_since" timestamp with time zone,
	"value" double precision NOT NULL,
	"last_notified_at" timestamp with time zone,
	CONSTRAINT "alert_rule_states_rule_group_rule_name_fingerprint_pk" PRIMARY KEY("rule_group","rule_name","fingerprint")
);
