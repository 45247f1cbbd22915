CREATE INDEX `hosts_disk_drivers` ON `hosts` (`disk_drivers`);--> statement-breakpoint
CREATE INDEX `hosts_attributes` ON `hosts` (`host_id`,`kernel_release`,`disk_drivers`,`zone`,`instance_type`);