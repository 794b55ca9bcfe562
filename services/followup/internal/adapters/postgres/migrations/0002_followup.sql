-- The followup projection: one row per complaint, folded from its events
-- (followup.complaints), the ids other systems know complaints by
-- (followup.external_refs), the durable reaction timers the poller fires
-- (followup.timers, not part of the projection: a rebuild keeps them), the
-- aftermath alerts already raised, and the customers' keys for comments.
CREATE TABLE followup.complaints (
    complaint_id     uuid        PRIMARY KEY,
    shop_id          text        NOT NULL,
    customer_ref     text        NOT NULL DEFAULT '',
    channel          smallint    NOT NULL DEFAULT 0,  -- kesu.complaint.v1.Channel
    filed_at         timestamptz NOT NULL,
    status           smallint    NOT NULL,            -- kesu.followup.v1.ComplaintStatus
    stage            text        NOT NULL DEFAULT '', -- why it is not closed ('' when closed)
    severity         smallint    NOT NULL DEFAULT 0,
    category         text        NOT NULL DEFAULT '',
    owner            text        NOT NULL DEFAULT '',
    last_owner       text        NOT NULL DEFAULT '',
    level            smallint    NOT NULL DEFAULT 0,  -- kesu.complaint.v1.EscalationLevel
    resolution_id    text        NOT NULL DEFAULT '',
    resolved_at      timestamptz,
    closed_at        timestamptz,
    follow_up_id     text        NOT NULL DEFAULT '',
    fu_state         smallint    NOT NULL DEFAULT 0,  -- kesu.followup.v1.FollowUpState
    fu_due_at        timestamptz,
    next_attempt_at  timestamptz,
    close_at         timestamptz,
    attempts         integer     NOT NULL DEFAULT 0,
    max_attempts     integer     NOT NULL DEFAULT 0,
    queue            text        NOT NULL DEFAULT '',
    queue_due        timestamptz,                     -- set while a call is wanted
    satisfaction     smallint    NOT NULL DEFAULT 0,
    score            integer     NOT NULL DEFAULT 0,
    return_requested boolean     NOT NULL DEFAULT false,
    retention        smallint    NOT NULL DEFAULT 0,
    follow_ups       integer     NOT NULL DEFAULT 0,
    reopens          integer     NOT NULL DEFAULT 0,
    erased           boolean     NOT NULL DEFAULT false,
    last_seq         bigint      NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- The follow-up queue: earliest due first.
CREATE INDEX complaints_queue ON followup.complaints (shop_id, queue_due, complaint_id) WHERE queue_due IS NOT NULL;
-- The aftermath sweep: a season's complaints not closed yet.
CREATE INDEX complaints_unclosed ON followup.complaints (shop_id, filed_at) WHERE status <> 3;
CREATE INDEX complaints_retention ON followup.complaints (shop_id, filed_at) WHERE return_requested;

CREATE TABLE followup.external_refs (
    source       text NOT NULL,
    external_id  text NOT NULL,
    complaint_id uuid NOT NULL,
    PRIMARY KEY (source, external_id)
);

-- kind: schedule | reopen_contact | close_no_answer | erase; ref names the
-- cause (resolution event id, contact event id, follow-up id, customer ref).
CREATE TABLE followup.timers (
    complaint_id uuid        NOT NULL,
    kind         text        NOT NULL,
    ref          text        NOT NULL,
    shop_id      text        NOT NULL,
    due_at       timestamptz NOT NULL,
    tries        integer     NOT NULL DEFAULT 0,
    last_error   text        NOT NULL DEFAULT '',
    PRIMARY KEY (complaint_id, kind, ref)
);
CREATE INDEX timers_due ON followup.timers (due_at);

CREATE TABLE followup.aftermath_alerts (
    shop_id   text        NOT NULL,
    season    integer     NOT NULL,
    day       date        NOT NULL,
    open      bigint      NOT NULL,
    raised_at timestamptz NOT NULL,
    PRIMARY KEY (shop_id, season, day)
);

CREATE TABLE followup.customer_keys (
    shop_id      text        NOT NULL,
    customer_ref text        NOT NULL,
    key_id       uuid        NOT NULL UNIQUE,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    erased_at    timestamptz,
    PRIMARY KEY (shop_id, customer_ref)
);
