-- The routing projection: one row per complaint (its work state), folded from
-- its events, and each agent's load. Rebuildable from the COMPLAINTS stream.
CREATE TABLE routing.items (
    complaint_id      uuid        PRIMARY KEY,
    shop_id           text        NOT NULL,
    channel           smallint    NOT NULL,           -- kesu.complaint.v1.Channel
    category          text        NOT NULL DEFAULT '',
    severity          smallint    NOT NULL DEFAULT 0, -- kesu.complaint.v1.Severity
    sev_rank          smallint    NOT NULL,           -- 4 - severity: ascending order puts crisis first
    vip               boolean     NOT NULL DEFAULT false,
    amount_fen        bigint      NOT NULL DEFAULT 0,
    queue             text        NOT NULL DEFAULT '',
    tier_required     smallint    NOT NULL DEFAULT 0,
    priority          integer     NOT NULL DEFAULT 0,
    rule              text        NOT NULL DEFAULT '',
    route_reason      text        NOT NULL DEFAULT '',
    status            smallint    NOT NULL,           -- kesu.routing.v1.WorkStatus
    owner             text        NOT NULL DEFAULT '',
    previous_owner    text        NOT NULL DEFAULT '',
    transfer_count    integer     NOT NULL DEFAULT 0,
    contacts          integer     NOT NULL DEFAULT 1,
    filed_at          timestamptz NOT NULL,
    assigned_at       timestamptz,
    first_response_at timestamptz,
    due_at            timestamptz NOT NULL,           -- running deadline; 9999-12-31 when none
    warn_at           timestamptz NOT NULL,
    started           boolean     NOT NULL DEFAULT false,
    pending_remedies  integer     NOT NULL DEFAULT 0,
    last_seq          bigint      NOT NULL,           -- COMPLAINTS stream sequence of the last event applied
    updated_at        timestamptz NOT NULL,
    state             jsonb       NOT NULL            -- the whole folded work state, to fold the next event onto
);

-- ListQueue: a queue's open complaints, most severe, nearest deadline, oldest first.
CREATE INDEX items_queue_order ON routing.items (queue, sev_rank, due_at, filed_at, complaint_id) WHERE status = 1;
-- ListQueue unassigned_only, and the fill of an agent coming online.
CREATE INDEX items_queue_waiting ON routing.items (queue, sev_rank, due_at, filed_at, complaint_id) WHERE status = 1 AND owner = '';
-- Queue stats: at-risk is a range count, the oldest an index probe.
CREATE INDEX items_queue_warn ON routing.items (queue, warn_at) WHERE status = 1;
CREATE INDEX items_queue_filed ON routing.items (queue, filed_at) WHERE status = 1;
-- MyWork and the offline sweep: what an agent holds.
CREATE INDEX items_owner_order ON routing.items (owner, sev_rank, due_at, filed_at, complaint_id) WHERE status = 1 AND owner <> '';

-- Open complaints each agent holds; kept by the projection, never by the API.
CREATE TABLE routing.agent_load (
    agent_id text    PRIMARY KEY,
    open     integer NOT NULL
);

-- Open and waiting complaints per queue and shop, kept by the projection so a
-- supervisor's view of a deep queue costs a row read, not a count.
CREATE TABLE routing.queue_counts (
    queue      text    NOT NULL,
    shop_id    text    NOT NULL,
    open       integer NOT NULL,
    unassigned integer NOT NULL,
    PRIMARY KEY (queue, shop_id)
);

-- The roster: profiles from the policy file and the API, presence from the
-- API. Not complaint events, so not in the stream and not rebuilt.
CREATE TABLE routing.agents (
    agent_id       text        PRIMARY KEY,
    name           text        NOT NULL DEFAULT '',
    tier           smallint    NOT NULL,
    skills         text[]      NOT NULL,
    capacity       integer     NOT NULL,
    shops          text[]      NOT NULL DEFAULT '{}',
    presence       smallint    NOT NULL DEFAULT 3,    -- kesu.routing.v1.Presence; new agents start offline
    presence_since timestamptz NOT NULL,
    updated_at     timestamptz NOT NULL
);
CREATE INDEX agents_skills ON routing.agents USING gin (skills);
CREATE INDEX agents_offline ON routing.agents (presence_since) WHERE presence = 3;
