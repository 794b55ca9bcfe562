-- The season projections (DESIGN §4): rebuilt from the COMPLAINTS stream alone.
-- complaint_facts holds one row per complaint, folded from its events;
-- events one row per event, decoded and without personal data; escalations
-- one row per ComplaintEscalated. A rebuild truncates them and COPYs them again.

CREATE TABLE reporting.complaint_facts (
    complaint_id           uuid        PRIMARY KEY,
    shop_id                text        NOT NULL,
    season                 integer     NOT NULL,
    phase                  text        NOT NULL,
    filed_at               timestamptz NOT NULL,
    filed_day              date        NOT NULL,
    channel                text        NOT NULL,
    category               text        NOT NULL,
    severity               text        NOT NULL,
    customer_type          text        NOT NULL,
    sku_id                 text        NOT NULL,
    product_name           text        NOT NULL,
    order_amount_fen       bigint      NOT NULL,
    claimed_amount_fen     bigint      NOT NULL,
    major                  boolean     NOT NULL,
    major_reasons          text[]      NOT NULL,
    status                 text        NOT NULL,
    first_response_seconds bigint,
    answered_30s           boolean     NOT NULL,
    first_resolved_at      timestamptz,
    resolved_at            timestamptz,
    resolved_phase         text        NOT NULL,
    resolution_seconds     bigint,
    resolved_within_72h    boolean     NOT NULL,
    resolutions            integer     NOT NULL,
    outcome                text        NOT NULL,
    remedy_kind            text        NOT NULL,
    remedy_amount_fen      bigint      NOT NULL,
    retention              text        NOT NULL,
    reopens                integer     NOT NULL,
    contacts               integer     NOT NULL,
    repeat_contacts        integer     NOT NULL,
    transfers              integer     NOT NULL,
    team                   text        NOT NULL,
    agent_id               text        NOT NULL,
    agent_tier             integer     NOT NULL,
    escalation_level       integer     NOT NULL,
    escalations            integer     NOT NULL,
    escalation_trigger     text        NOT NULL,
    breach_first_response  integer     NOT NULL,
    breach_next_response   integer     NOT NULL,
    breach_resolution      integer     NOT NULL,
    breach_odr             integer     NOT NULL,
    breach_promise         integer     NOT NULL,
    breach_follow_up       integer     NOT NULL,
    promises_made          integer     NOT NULL,
    promises_broken        integer     NOT NULL,
    follow_ups             integer     NOT NULL,
    follow_up_reached      boolean     NOT NULL,
    satisfaction           text        NOT NULL,
    satisfaction_score     integer     NOT NULL,
    closed_at              timestamptz,
    close_reason           text        NOT NULL,
    personal_erased        boolean     NOT NULL,
    last_event_at          timestamptz NOT NULL,
    event_count            bigint      NOT NULL,
    last_seq               bigint      NOT NULL
);
CREATE INDEX complaint_facts_shop_season ON reporting.complaint_facts (shop_id, season);
-- The report lists major and unresolved complaints (at most 1 000 each).
CREATE INDEX complaint_facts_major ON reporting.complaint_facts (shop_id, season, filed_at) WHERE major;
CREATE INDEX complaint_facts_open ON reporting.complaint_facts (shop_id, season, filed_at) WHERE status = 'open';

-- The report's groups, kept up to date from the facts: every counter is a
-- sum over the facts of the group (domain.Fact.Counters), so an event changes
-- a group by the difference it makes to one fact. dim 'total' is the whole
-- season. Rows whose complaints fall to 0 are deleted, as a rebuild would
-- never write them.
CREATE TABLE reporting.season_groups (
    shop_id text    NOT NULL,
    season  integer NOT NULL,
    dim     text    NOT NULL,
    key     text    NOT NULL,
    label   text    NOT NULL,
    complaints            bigint NOT NULL,
    responded             bigint NOT NULL,
    first_response_sum    bigint NOT NULL,
    chat                  bigint NOT NULL,
    chat_answered_30s     bigint NOT NULL,
    within_2h             bigint NOT NULL,
    within_24h            bigint NOT NULL,
    ever_resolved         bigint NOT NULL,
    resolved              bigint NOT NULL,
    resolved_timed        bigint NOT NULL,
    resolution_sum        bigint NOT NULL,
    resolved_72h          bigint NOT NULL,
    remedy_amount_fen     bigint NOT NULL,
    escalated             bigint NOT NULL,
    major                 bigint NOT NULL,
    breach_first_response bigint NOT NULL,
    breach_next_response  bigint NOT NULL,
    breach_resolution     bigint NOT NULL,
    breach_odr            bigint NOT NULL,
    breach_promise        bigint NOT NULL,
    breach_follow_up      bigint NOT NULL,
    promises_made         bigint NOT NULL,
    promises_broken       bigint NOT NULL,
    repeat                bigint NOT NULL,
    transferred           bigint NOT NULL,
    transfers             bigint NOT NULL,
    followed_up           bigint NOT NULL,
    rated                 bigint NOT NULL,
    satisfied             bigint NOT NULL,
    reopened              bigint NOT NULL,
    open                  bigint NOT NULL,
    PRIMARY KEY (shop_id, season, dim, key)
);

-- Distributions for medians and percentiles: how many complaints of a phase
-- had each value (first response in seconds, resolution in minutes).
CREATE TABLE reporting.season_values (
    shop_id text    NOT NULL,
    season  integer NOT NULL,
    phase   text    NOT NULL,
    measure text    NOT NULL,
    value   bigint  NOT NULL,
    n       bigint  NOT NULL,
    PRIMARY KEY (shop_id, season, measure, phase, value)
);

-- Personal data never lands here: sealed fields are only flagged
-- (has_personal), customer actor ids are not kept.
CREATE TABLE reporting.events (
    stream_seq     bigint      PRIMARY KEY,
    event_id       uuid        NOT NULL,
    complaint_id   uuid        NOT NULL,
    shop_id        text        NOT NULL,
    event_type     text        NOT NULL,
    occurred_at    timestamptz NOT NULL,
    recorded_at    timestamptz NOT NULL,
    actor_kind     text        NOT NULL,
    actor_id       text        NOT NULL,
    actor_role     text        NOT NULL,
    channel        text        NOT NULL,
    agent_id       text        NOT NULL,
    queue          text        NOT NULL,
    code           text        NOT NULL,
    level          integer     NOT NULL,
    amount_fen     bigint      NOT NULL,
    seconds        bigint      NOT NULL,
    has_personal   boolean     NOT NULL,
    correlation_id text        NOT NULL,
    causation_id   text        NOT NULL
);

CREATE TABLE reporting.escalations (
    stream_seq   bigint      PRIMARY KEY,
    complaint_id uuid        NOT NULL,
    shop_id      text        NOT NULL,
    season       integer     NOT NULL,
    occurred_at  timestamptz NOT NULL,
    from_level   integer     NOT NULL,
    to_level     integer     NOT NULL,
    trigger      text        NOT NULL
);
CREATE INDEX escalations_shop_season ON reporting.escalations (shop_id, season);
