CREATE TABLE `detector_last_days` (
	`detector` text NOT NULL,
	`day` integer NOT NULL,
	`episodes` integer NOT NULL,
	`regressions` integer NOT NULL,
	`min_first_seen_ms` integer,
	`hosts` integer NOT NULL,
	PRIMARY KEY(`detector`, `day`)
);
--> statement-breakpoint
CREATE TABLE `host_detectors` (
	`detector` text NOT NULL,
	`host_id` text NOT NULL,
	`last_seen_ms` integer NOT NULL,
	PRIMARY KEY(`detector`, `host_id`)
);
--> statement-breakpoint
CREATE INDEX `host_detectors_last` ON `host_detectors` (`detector`,`last_seen_ms`,`host_id`);--> statement-breakpoint
CREATE INDEX `episodes_host_detector_last` ON `episodes` (`host_id`,`detector`,`last_seen_ms`,`first_seen_ms`,`regressions`);--> statement-breakpoint
-- Backfill from the episodes already stored, before the triggers exist.
INSERT INTO `host_detectors` (`detector`, `host_id`, `last_seen_ms`)
SELECT detector, host_id, max(last_seen_ms) FROM `episodes` GROUP BY 1, 2
--> statement-breakpoint
INSERT INTO `detector_last_days` (`detector`, `day`, `episodes`, `regressions`, `min_first_seen_ms`, `hosts`)
SELECT detector, last_seen_ms / 86400000, count(*), sum(regressions), min(first_seen_ms), 0 FROM `episodes` GROUP BY 1, 2
--> statement-breakpoint
INSERT INTO `detector_last_days` (`detector`, `day`, `episodes`, `regressions`, `min_first_seen_ms`, `hosts`)
SELECT detector, last_seen_ms / 86400000, 0, 0, NULL, count(*) FROM `host_detectors` WHERE true GROUP BY 1, 2
ON CONFLICT (`detector`, `day`) DO UPDATE SET `hosts` = excluded.hosts
--> statement-breakpoint
-- host_detectors.last_seen_ms is max(last_seen_ms) of the host's episodes of that detector, looked up
-- in episodes_host_detector_last after every change (one index probe), so no change can leave it stale.
-- Unlike the daily rollups, retention's deletes count: these tables mirror the episodes stored.
CREATE TRIGGER `episodes_hosts_insert` AFTER INSERT ON `episodes` BEGIN
  INSERT INTO `host_detectors` (`detector`, `host_id`, `last_seen_ms`)
  VALUES (NEW.detector, NEW.host_id, NEW.last_seen_ms)
  ON CONFLICT (`detector`, `host_id`) DO UPDATE SET `last_seen_ms` = excluded.last_seen_ms
  WHERE excluded.last_seen_ms > `last_seen_ms`;
END
--> statement-breakpoint
CREATE TRIGGER `episodes_hosts_update` AFTER UPDATE OF `last_seen_ms` ON `episodes`
WHEN OLD.last_seen_ms != NEW.last_seen_ms
BEGIN
  UPDATE `host_detectors`
  SET `last_seen_ms` = (SELECT max(last_seen_ms) FROM `episodes` WHERE host_id = NEW.host_id AND detector = NEW.detector)
  WHERE `detector` = NEW.detector AND `host_id` = NEW.host_id;
END
--> statement-breakpoint
CREATE TRIGGER `episodes_hosts_delete` AFTER DELETE ON `episodes` BEGIN
  DELETE FROM `host_detectors` WHERE `detector` = OLD.detector AND `host_id` = OLD.host_id
    AND NOT EXISTS (SELECT 1 FROM `episodes` WHERE host_id = OLD.host_id AND detector = OLD.detector);
  UPDATE `host_detectors`
  SET `last_seen_ms` = (SELECT max(last_seen_ms) FROM `episodes` WHERE host_id = OLD.host_id AND detector = OLD.detector)
  WHERE `detector` = OLD.detector AND `host_id` = OLD.host_id AND `last_seen_ms` = OLD.last_seen_ms;
END
--> statement-breakpoint
-- detector_last_days.hosts follows host_detectors: a host counts on the day of its last sighting.
CREATE TRIGGER `host_detectors_days_insert` AFTER INSERT ON `host_detectors` BEGIN
  INSERT INTO `detector_last_days` (`detector`, `day`, `episodes`, `regressions`, `min_first_seen_ms`, `hosts`)
  VALUES (NEW.detector, NEW.last_seen_ms / 86400000, 0, 0, NULL, 1)
  ON CONFLICT (`detector`, `day`) DO UPDATE SET `hosts` = `hosts` + 1;
END
--> statement-breakpoint
CREATE TRIGGER `host_detectors_days_update` AFTER UPDATE OF `last_seen_ms` ON `host_detectors`
WHEN OLD.last_seen_ms / 86400000 != NEW.last_seen_ms / 86400000
BEGIN
  UPDATE `detector_last_days` SET `hosts` = `hosts` - 1
  WHERE `detector` = OLD.detector AND `day` = OLD.last_seen_ms / 86400000;
  INSERT INTO `detector_last_days` (`detector`, `day`, `episodes`, `regressions`, `min_first_seen_ms`, `hosts`)
  VALUES (NEW.detector, NEW.last_seen_ms / 86400000, 0, 0, NULL, 1)
  ON CONFLICT (`detector`, `day`) DO UPDATE SET `hosts` = `hosts` + 1;
END
--> statement-breakpoint
CREATE TRIGGER `host_detectors_days_delete` AFTER DELETE ON `host_detectors` BEGIN
  UPDATE `detector_last_days` SET `hosts` = `hosts` - 1
  WHERE `detector` = OLD.detector AND `day` = OLD.last_seen_ms / 86400000;
END
--> statement-breakpoint
-- An episode counts on the day of its last sighting. Taking one out of a day whose earliest first
-- sighting it held re-reads that day's minimum from episodes_detector_last (one day of one detector).
-- Most sightings move last_seen within the same day and change nothing here.
CREATE TRIGGER `episodes_last_days_insert` AFTER INSERT ON `episodes` BEGIN
  INSERT INTO `detector_last_days` (`detector`, `day`, `episodes`, `regressions`, `min_first_seen_ms`, `hosts`)
  VALUES (NEW.detector, NEW.last_seen_ms / 86400000, 1, NEW.regressions, NEW.first_seen_ms, 0)
  ON CONFLICT (`detector`, `day`) DO UPDATE
    SET `episodes` = `episodes` + 1, `regressions` = `regressions` + excluded.regressions,
        `min_first_seen_ms` = min(coalesce(`min_first_seen_ms`, excluded.min_first_seen_ms), excluded.min_first_seen_ms);
END
--> statement-breakpoint
CREATE TRIGGER `episodes_last_days_update` AFTER UPDATE OF `first_seen_ms`, `last_seen_ms`, `regressions` ON `episodes`
WHEN OLD.last_seen_ms / 86400000 != NEW.last_seen_ms / 86400000 OR OLD.first_seen_ms != NEW.first_seen_ms
  OR OLD.regressions != NEW.regressions
BEGIN
  UPDATE `detector_last_days`
  SET `episodes` = `episodes` - 1, `regressions` = `regressions` - OLD.regressions,
      `min_first_seen_ms` = CASE WHEN OLD.first_seen_ms > `min_first_seen_ms` THEN `min_first_seen_ms` ELSE (
        SELECT min(first_seen_ms) FROM `episodes` WHERE detector = OLD.detector
          AND last_seen_ms BETWEEN OLD.last_seen_ms / 86400000 * 86400000 AND OLD.last_seen_ms / 86400000 * 86400000 + 86399999) END
  WHERE `detector` = OLD.detector AND `day` = OLD.last_seen_ms / 86400000;
  INSERT INTO `detector_last_days` (`detector`, `day`, `episodes`, `regressions`, `min_first_seen_ms`, `hosts`)
  VALUES (NEW.detector, NEW.last_seen_ms / 86400000, 1, NEW.regressions, NEW.first_seen_ms, 0)
  ON CONFLICT (`detector`, `day`) DO UPDATE
    SET `episodes` = `episodes` + 1, `regressions` = `regressions` + excluded.regressions,
        `min_first_seen_ms` = min(coalesce(`min_first_seen_ms`, excluded.min_first_seen_ms), excluded.min_first_seen_ms);
END
--> statement-breakpoint
CREATE TRIGGER `episodes_last_days_delete` AFTER DELETE ON `episodes` BEGIN
  UPDATE `detector_last_days`
  SET `episodes` = `episodes` - 1, `regressions` = `regressions` - OLD.regressions,
      `min_first_seen_ms` = CASE WHEN OLD.first_seen_ms > `min_first_seen_ms` THEN `min_first_seen_ms` ELSE (
        SELECT min(first_seen_ms) FROM `episodes` WHERE detector = OLD.detector
          AND last_seen_ms BETWEEN OLD.last_seen_ms / 86400000 * 86400000 AND OLD.last_seen_ms / 86400000 * 86400000 + 86399999) END
  WHERE `detector` = OLD.detector AND `day` = OLD.last_seen_ms / 86400000;
END;
