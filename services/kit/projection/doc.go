// Package projection runs a PostgreSQL projection of the COMPLAINTS stream
// (DESIGN §4): a durable JetStream pull consumer whose batches are applied
// and checkpointed in one transaction, then acknowledged.
//
// # Exactly-once effect
//
// Each batch runs in one transaction that locks the projection's row in
// <schema>.projection_checkpoints, drops the events at or below the
// checkpoint, calls Handler.Apply with the rest (in stream order), moves the
// checkpoint to the last applied stream sequence and commits. Only then are
// the messages acked. A crash between commit and ack redelivers events the
// checkpoint already covers, so they are skipped; a crash before commit
// rolls the batch back and it is applied again. Handlers therefore need no
// idempotency of their own. For the same reason batches commit with
// synchronous_commit off: a commit lost in a PostgreSQL crash loses its
// checkpoint too, and the batch comes again.
//
// The checkpoint, not the consumer, is the source of truth. The runner
// checks that the first event it applies directly follows the checkpoint
// (for the stream's own subjects this costs nothing; with a narrower filter
// a gap costs one stream lookup). If an earlier event is still out with a
// dead process, the durable consumer is recreated at checkpoint+1, so no
// event is ever skipped. For the same reason a runner that starts on a
// consumer with unacknowledged messages recreates it at checkpoint+1 rather
// than waiting for their redelivery.
//
// Replicas of a service may all run the same projection: a session advisory
// lock elects one to apply batches; the others wait on it and take over
// when its session ends. A Runner holds one pool connection while it runs.
//
// # Rebuild and the staging pattern
//
// Rebuild replays the whole stream into a projection from scratch in one
// transaction, set-based instead of event by event. A Rebuilder's
//
//   - Reset truncates the projection's tables and creates a staging table,
//     e.g. CREATE TEMP TABLE stage_complaints (LIKE routing.complaints) ON
//     COMMIT DROP;
//   - Stage receives the events in chunks, folds each chunk in memory to
//     rows, and COPYs them into the staging table with CopyRows (COPY is an
//     order of magnitude faster than INSERT);
//   - Merge folds the staging table into the real tables with one
//     set-based statement, e.g. INSERT INTO routing.complaints SELECT DISTINCT
//     ON (complaint_id) ... FROM stage_complaints ORDER BY complaint_id,
//     stream_seq DESC ON CONFLICT (complaint_id) DO UPDATE SET ...
//
// The checkpoint is set to the last replayed sequence in the same
// transaction, so the live runner continues exactly where the replay ended.
package projection
