CREATE TABLE `control_plane_events` (
	`id` text PRIMARY KEY NOT NULL,
	`instance_id` text NOT NULL,
	`type` text NOT NULL,
	`outcome` text NOT NULL,
	`disk_id` text NOT NULL,
	`bdf` text,
	`serial` text,
	`mode` text,
	`at_ms` integer NOT NULL,
	`received_at_ms` integer NOT NULL,
	`via` text NOT NULL,
	`raw` text NOT NULL
);
--> statement-breakpoint
CREATE INDEX `cpe_instance_at` ON `control_plane_events` (`instance_id`,`at_ms`);--> statement-breakpoint
CREATE INDEX `cpe_at` ON `control_plane_events` (`at_ms`);--> statement-breakpoint
CREATE TABLE `daily_rollups` (
	`day` text NOT NULL,
	`detector` text NOT NULL,
	`host_id` text NOT NULL,
	`episodes` integer NOT NULL,
	`first_seen_ms` integer NOT NULL,
	`last_seen_ms` integer NOT NULL,
	PRIMARY KEY(`detector`, `day`, `host_id`)
);
--> statement-breakpoint
CREATE INDEX `rollups_host_day` ON `daily_rollups` (`host_id`,`day`);--> statement-breakpoint
CREATE TABLE `episodes` (
	`id` text PRIMARY KEY NOT NULL,
	`detector` text NOT NULL,
	`host_id` text NOT NULL,
	`subject` text NOT NULL,
	`status` text NOT NULL,
	`confidence` text NOT NULL,
	`first_seen_ms` integer NOT NULL,
	`last_seen_ms` integer NOT NULL,
	`first_snapshot_ms` integer NOT NULL,
	`resolved_at_ms` integer,
	`regressions` integer DEFAULT 0 NOT NULL,
	`summary` text NOT NULL,
	`evidence` text NOT NULL,
	`blind_spots` text DEFAULT '[]' NOT NULL,
	`updated_at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `episodes_detector_last` ON `episodes` (`detector`,`last_seen_ms`,`first_seen_ms`,`host_id`,`regressions`);--> statement-breakpoint
CREATE INDEX `episodes_last` ON `episodes` (`last_seen_ms`,`first_seen_ms`,`detector`,`host_id`,`regressions`);--> statement-breakpoint
CREATE INDEX `episodes_host_status` ON `episodes` (`host_id`,`status`);--> statement-breakpoint
CREATE INDEX `episodes_detector_status_first` ON `episodes` (`detector`,`status`,`first_seen_ms`,`id`);--> statement-breakpoint
CREATE INDEX `episodes_first_seen` ON `episodes` (`first_seen_ms`,`id`);--> statement-breakpoint
CREATE TABLE `hosts` (
	`host_id` text PRIMARY KEY NOT NULL,
	`first_seen_ms` integer NOT NULL,
	`last_seen_ms` integer NOT NULL,
	`view_captured_at_ms` integer NOT NULL,
	`latest_snapshot_key` text NOT NULL,
	`hostname` text,
	`kernel_release` text,
	`boot_id` text,
	`labels` text DEFAULT '{}' NOT NULL,
	`zone` text,
	`instance_type` text,
	`disk_drivers` text,
	`view_summary` text DEFAULT '{}' NOT NULL
);
--> statement-breakpoint
CREATE INDEX `hosts_zone` ON `hosts` (`zone`);--> statement-breakpoint
CREATE INDEX `hosts_instance_type` ON `hosts` (`instance_type`);--> statement-breakpoint
CREATE INDEX `hosts_kernel` ON `hosts` (`kernel_release`);--> statement-breakpoint
CREATE TABLE `ingest_errors` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`kind` text NOT NULL,
	`ref` text NOT NULL,
	`host_id` text,
	`code` text NOT NULL,
	`message` text NOT NULL,
	`at_ms` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `ingest_errors_at` ON `ingest_errors` (`at_ms`);--> statement-breakpoint
CREATE INDEX `ingest_errors_kind_at` ON `ingest_errors` (`kind`,`at_ms`);--> statement-breakpoint
CREATE TABLE `snapshots` (
	`key` text PRIMARY KEY NOT NULL,
	`host_id` text NOT NULL,
	`sha256` text NOT NULL,
	`captured_at_ms` integer NOT NULL,
	`received_at_ms` integer NOT NULL,
	`source` text DEFAULT 'snapshot' NOT NULL,
	`command` text,
	`bytes` integer NOT NULL,
	`status` text NOT NULL,
	`reason_code` text,
	`reason` text,
	`issue_count` integer DEFAULT 0 NOT NULL,
	`processed_at_ms` integer,
	`attempts` integer DEFAULT 0 NOT NULL
);
--> statement-breakpoint
CREATE INDEX `snapshots_host_captured` ON `snapshots` (`host_id`,`captured_at_ms`);--> statement-breakpoint
CREATE INDEX `snapshots_status_received` ON `snapshots` (`status`,`received_at_ms`);--> statement-breakpoint
CREATE INDEX `snapshots_sha` ON `snapshots` (`sha256`);--> statement-breakpoint
CREATE TABLE `tokens` (
	`id` text PRIMARY KEY NOT NULL,
	`hash` text NOT NULL,
	`name` text NOT NULL,
	`scopes` text NOT NULL,
	`host_id` text,
	`created_at_ms` integer NOT NULL,
	`revoked_at_ms` integer
);
--> statement-breakpoint
CREATE UNIQUE INDEX `tokens_hash` ON `tokens` (`hash`);