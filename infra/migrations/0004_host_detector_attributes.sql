DROP INDEX `host_detectors_last`;--> statement-breakpoint
ALTER TABLE `host_detectors` ADD `has_host` integer DEFAULT 0 NOT NULL;--> statement-breakpoint
ALTER TABLE `host_detectors` ADD `kernel_release` text;--> statement-breakpoint
ALTER TABLE `host_detectors` ADD `disk_drivers` text;--> statement-breakpoint
ALTER TABLE `host_detectors` ADD `zone` text;--> statement-breakpoint
ALTER TABLE `host_detectors` ADD `instance_type` text;--> statement-breakpoint
CREATE INDEX `host_detectors_host` ON `host_detectors` (`host_id`);--> statement-breakpoint
CREATE INDEX `host_detectors_last` ON `host_detectors` (`detector`,`last_seen_ms`,`host_id`,`has_host`,`kernel_release`,`disk_drivers`,`zone`,`instance_type`);--> statement-breakpoint
-- Backfill from the hosts already stored, before the triggers exist.
UPDATE `host_detectors`
SET (`has_host`, `kernel_release`, `disk_drivers`, `zone`, `instance_type`) = (
  SELECT 1, h.kernel_release, h.disk_drivers, h.zone, h.instance_type FROM `hosts` h WHERE h.host_id = host_detectors.host_id)
WHERE EXISTS (SELECT 1 FROM `hosts` h WHERE h.host_id = host_detectors.host_id)
--> statement-breakpoint
-- A host's first episode of a detector copies its attributes (if its hosts row exists yet).
DROP TRIGGER `episodes_hosts_insert`
--> statement-breakpoint
CREATE TRIGGER `episodes_hosts_insert` AFTER INSERT ON `episodes` BEGIN
  INSERT INTO `host_detectors` (`detector`, `host_id`, `last_seen_ms`, `has_host`, `kernel_release`, `disk_drivers`, `zone`, `instance_type`)
  SELECT NEW.detector, NEW.host_id, NEW.last_seen_ms, h.host_id IS NOT NULL, h.kernel_release, h.disk_drivers, h.zone, h.instance_type
  FROM (SELECT 1) LEFT JOIN `hosts` h ON h.host_id = NEW.host_id
  WHERE true
  ON CONFLICT (`detector`, `host_id`) DO UPDATE SET `last_seen_ms` = excluded.last_seen_ms
  WHERE excluded.last_seen_ms > `last_seen_ms`;
END
--> statement-breakpoint
-- The hosts row arriving, changing its attributes (a kernel upgrade, a relabel) or going.
CREATE TRIGGER `hosts_attributes_insert` AFTER INSERT ON `hosts` BEGIN
  UPDATE `host_detectors`
  SET `has_host` = 1, `kernel_release` = NEW.kernel_release, `disk_drivers` = NEW.disk_drivers,
      `zone` = NEW.zone, `instance_type` = NEW.instance_type
  WHERE `host_id` = NEW.host_id;
END
--> statement-breakpoint
CREATE TRIGGER `hosts_attributes_update` AFTER UPDATE OF `kernel_release`, `disk_drivers`, `zone`, `instance_type` ON `hosts`
WHEN OLD.kernel_release IS NOT NEW.kernel_release OR OLD.disk_drivers IS NOT NEW.disk_drivers
  OR OLD.zone IS NOT NEW.zone OR OLD.instance_type IS NOT NEW.instance_type
BEGIN
  UPDATE `host_detectors`
  SET `kernel_release` = NEW.kernel_release, `disk_drivers` = NEW.disk_drivers,
      `zone` = NEW.zone, `instance_type` = NEW.instance_type
  WHERE `host_id` = NEW.host_id;
END
--> statement-breakpoint
CREATE TRIGGER `hosts_attributes_delete` AFTER DELETE ON `hosts` BEGIN
  UPDATE `host_detectors`
  SET `has_host` = 0, `kernel_release` = NULL, `disk_drivers` = NULL, `zone` = NULL, `instance_type` = NULL
  WHERE `host_id` = OLD.host_id;
END;
