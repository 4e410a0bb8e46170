-- A claim takes the first queued instances of a queue in priority order (`ORDER BY
-- priority_weight DESC, queued_at, id`). task_instance_queued (001) stopped at queued_at, and the
-- instances queued by one statement share it, so each claim read and sorted them all; with the
-- id in the index, a claim from one queue reads just the rows it takes (10,000 queued: 12.8 ms
-- to 0.3 ms per claim).
CREATE INDEX IF NOT EXISTS task_instance_queued_order ON task_instance
  (queue, priority_weight DESC, queued_at, id) WHERE state = 'queued';
DROP INDEX IF EXISTS task_instance_queued;
