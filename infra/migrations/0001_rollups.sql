-- The old daily_rollups was never written; it is replaced by the trigger-kept tables below.
DROP TABLE `daily_rollups`;
--> statement-breakpoint
CREATE TABLE `daily_rollups` (
	`host_id` text NOT NULL,
	`detector` text NOT NULL,
	`day` integer NOT NULL,
	`episodes` integer NOT NULL,
	`started` integer NOT NULL,
	PRIMARY KEY(`host_id`, `detector`, `day`)
);
--> statement-breakpoint
CREATE TABLE `day_offsets` (
	`n` integer PRIMARY KEY NOT NULL
);
--> statement-breakpoint
CREATE TABLE `detector_days` (
	`detector` text NOT NULL,
	`day` integer NOT NULL,
	`hosts` integer NOT NULL,
	`active` integer NOT NULL,
	`started` integer NOT NULL,
	PRIMARY KEY(`detector`, `day`)
);
--> statement-breakpoint
CREATE TABLE `rollup_hold` (
	`id` integer PRIMARY KEY NOT NULL
);
--> statement-breakpoint
-- Day offsets 0..1023 for the triggers to expand an episode's span (SQLite allows no CTE in a trigger).
WITH RECURSIVE s(n) AS (SELECT 0 UNION ALL SELECT n + 1 FROM s WHERE n < 1023)
INSERT INTO `day_offsets` (`n`) SELECT n FROM s
--> statement-breakpoint
-- Backfill from the episodes already stored, before the triggers exist.
INSERT INTO `daily_rollups` (`host_id`, `detector`, `day`, `episodes`, `started`)
SELECT e.host_id, e.detector, e.first_seen_ms / 86400000 + o.n, count(*), sum(o.n = 0)
FROM `episodes` e JOIN `day_offsets` o ON o.n <= e.last_seen_ms / 86400000 - e.first_seen_ms / 86400000
GROUP BY 1, 2, 3
--> statement-breakpoint
INSERT INTO `detector_days` (`detector`, `day`, `hosts`, `active`, `started`)
SELECT detector, day, count(*), sum(episodes), sum(started) FROM `daily_rollups` GROUP BY detector, day
--> statement-breakpoint
-- An episode counts on every UTC day from its first to its last sighting.
CREATE TRIGGER `episodes_rollup_insert` AFTER INSERT ON `episodes` BEGIN
  INSERT INTO `daily_rollups` (`host_id`, `detector`, `day`, `episodes`, `started`)
  SELECT NEW.host_id, NEW.detector, NEW.first_seen_ms / 86400000 + n, 1, n = 0
  FROM `day_offsets` WHERE n <= NEW.last_seen_ms / 86400000 - NEW.first_seen_ms / 86400000
  ON CONFLICT (`host_id`, `detector`, `day`) DO UPDATE
    SET `episodes` = `episodes` + 1, `started` = `started` + excluded.started;
END
--> statement-breakpoint
-- A sighting that moves the span to other days (most only move last_seen within the same day).
CREATE TRIGGER `episodes_rollup_update` AFTER UPDATE OF `first_seen_ms`, `last_seen_ms` ON `episodes`
WHEN OLD.first_seen_ms / 86400000 != NEW.first_seen_ms / 86400000 OR OLD.last_seen_ms / 86400000 != NEW.last_seen_ms / 86400000
BEGIN
  UPDATE `daily_rollups` SET `episodes` = `episodes` - 1, `started` = `started` - (`day` = OLD.first_seen_ms / 86400000)
  WHERE `host_id` = OLD.host_id AND `detector` = OLD.detector
    AND `day` BETWEEN OLD.first_seen_ms / 86400000 AND OLD.last_seen_ms / 86400000;
  DELETE FROM `daily_rollups`
  WHERE `host_id` = OLD.host_id AND `detector` = OLD.detector
    AND `day` BETWEEN OLD.first_seen_ms / 86400000 AND OLD.last_seen_ms / 86400000 AND `episodes` <= 0;
  INSERT INTO `daily_rollups` (`host_id`, `detector`, `day`, `episodes`, `started`)
  SELECT NEW.host_id, NEW.detector, NEW.first_seen_ms / 86400000 + n, 1, n = 0
  FROM `day_offsets` WHERE n <= NEW.last_seen_ms / 86400000 - NEW.first_seen_ms / 86400000
  ON CONFLICT (`host_id`, `detector`, `day`) DO UPDATE
    SET `episodes` = `episodes` + 1, `started` = `started` + excluded.started;
END
--> statement-breakpoint
-- A withdrawn episode leaves the rollups; retention's deletes (under rollup_hold) do not.
CREATE TRIGGER `episodes_rollup_delete` AFTER DELETE ON `episodes`
WHEN NOT EXISTS (SELECT 1 FROM `rollup_hold`)
BEGIN
  UPDATE `daily_rollups` SET `episodes` = `episodes` - 1, `started` = `started` - (`day` = OLD.first_seen_ms / 86400000)
  WHERE `host_id` = OLD.host_id AND `detector` = OLD.detector
    AND `day` BETWEEN OLD.first_seen_ms / 86400000 AND OLD.last_seen_ms / 86400000;
  DELETE FROM `daily_rollups`
  WHERE `host_id` = OLD.host_id AND `detector` = OLD.detector
    AND `day` BETWEEN OLD.first_seen_ms / 86400000 AND OLD.last_seen_ms / 86400000 AND `episodes` <= 0;
END
--> statement-breakpoint
-- detector_days follows daily_rollups: a new host-day adds a host, an emptied one removes it.
CREATE TRIGGER `rollups_days_insert` AFTER INSERT ON `daily_rollups` BEGIN
  INSERT INTO `detector_days` (`detector`, `day`, `hosts`, `active`, `started`)
  VALUES (NEW.detector, NEW.day, 1, NEW.episodes, NEW.started)
  ON CONFLICT (`detector`, `day`) DO UPDATE
    SET `hosts` = `hosts` + 1, `active` = `active` + excluded.active, `started` = `started` + excluded.started;
END
--> statement-breakpoint
CREATE TRIGGER `rollups_days_update` AFTER UPDATE ON `daily_rollups` BEGIN
  UPDATE `detector_days`
  SET `active` = `active` + NEW.episodes - OLD.episodes, `started` = `started` + NEW.started - OLD.started
  WHERE `detector` = NEW.detector AND `day` = NEW.day;
END
--> statement-breakpoint
CREATE TRIGGER `rollups_days_delete` AFTER DELETE ON `daily_rollups` BEGIN
  UPDATE `detector_days`
  SET `hosts` = `hosts` - 1, `active` = `active` - OLD.episodes, `started` = `started` - OLD.started
  WHERE `detector` = OLD.detector AND `day` = OLD.day;
END;
