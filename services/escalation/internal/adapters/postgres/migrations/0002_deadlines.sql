-- One row per complaint the clocks know (facts only; the clocks are rows of deadlines).
CREATE TABLE escalation.complaints (
    complaint_id text PRIMARY KEY,
    shop_id      text NOT NULL,
    status       text NOT NULL,
    level_id     text NOT NULL DEFAULT '',
    facts        jsonb NOT NULL,
    last_seq     bigint NOT NULL,
    updated_at   timestamptz NOT NULL
);
CREATE INDEX complaints_open ON escalation.complaints (shop_id) WHERE status <> 'closed';

-- Every SLA clock of every complaint. The poller fires rows whose fire_at has
-- come (SELECT … FOR UPDATE SKIP LOCKED); fire_at is NULL when nothing is left
-- to do. (deadline_id, generation) names one possible breach.
CREATE TABLE escalation.deadlines (
    deadline_id  uuid PRIMARY KEY,
    complaint_id text NOT NULL,
    shop_id      text NOT NULL,
    clock        text NOT NULL,
    key          text NOT NULL DEFAULT '',
    generation   bigint NOT NULL,
    status       text NOT NULL,
    phase        text NOT NULL DEFAULT '',
    started_at   timestamptz,
    target_at    timestamptz,
    warn_at      timestamptz,
    due_at       timestamptz,
    warned       boolean NOT NULL DEFAULT false,
    stopped_at   timestamptz,
    breached_at  timestamptz,
    remaining_ms bigint NOT NULL DEFAULT 0,
    error        text NOT NULL DEFAULT '',
    agent_id     text NOT NULL DEFAULT '',
    description  text NOT NULL DEFAULT '',
    fire_at      timestamptz,
    attempts     int NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX deadlines_fire ON escalation.deadlines (fire_at) WHERE fire_at IS NOT NULL;
CREATE INDEX deadlines_complaint ON escalation.deadlines (complaint_id);
CREATE INDEX deadlines_running ON escalation.deadlines (shop_id, due_at) WHERE status = 'running';

-- Work the projection hands to the poller in its own transaction (an outbox):
-- ladder evaluations and alerts. Ids derive from the cause, so a redelivered
-- event adds nothing.
CREATE TABLE escalation.reactions (
    reaction_id  uuid PRIMARY KEY,
    complaint_id text NOT NULL DEFAULT '',
    shop_id      text NOT NULL,
    kind         text NOT NULL,
    body         jsonb NOT NULL,
    created_at   timestamptz NOT NULL,
    fire_at      timestamptz,
    attempts     int NOT NULL DEFAULT 0,
    last_error   text NOT NULL DEFAULT ''
);
CREATE INDEX reactions_pending ON escalation.reactions (fire_at) WHERE fire_at IS NOT NULL;

-- Filings per window, per category and per product: the rolling baselines of
-- the spike alert.
CREATE TABLE escalation.filings (
    shop_id text NOT NULL,
    dim     text NOT NULL,
    value   text NOT NULL,
    bucket  timestamptz NOT NULL,
    n       bigint NOT NULL,
    PRIMARY KEY (shop_id, dim, value, bucket)
);

-- The policy the deadlines were last computed with; a different digest at
-- start-up recomputes the open complaints' deadlines.
CREATE TABLE escalation.policy_state (
    id            int PRIMARY KEY CHECK (id = 1),
    digest        text NOT NULL,
    recomputed_at timestamptz NOT NULL
);
