-- The intake projection: one row per complaint, folded from its events.
CREATE TABLE intake.complaints (
    complaint_id       uuid        PRIMARY KEY,
    shop_id            text        NOT NULL,
    channel            smallint    NOT NULL,           -- kesu.complaint.v1.Channel
    status             smallint    NOT NULL,           -- kesu.intake.v1.ComplaintStatus
    customer_ref       text        NOT NULL,
    personal           bytea,                          -- kesu.complaint.v1.Sealed; NULL once erased
    personal_erased    boolean     NOT NULL DEFAULT false,
    order_id           text        NOT NULL DEFAULT '',
    items              jsonb       NOT NULL DEFAULT '[]',
    order_amount_fen   bigint      NOT NULL DEFAULT 0,
    claimed_amount_fen bigint      NOT NULL DEFAULT 0,
    external_source    text        NOT NULL DEFAULT '',
    external_id        text        NOT NULL DEFAULT '',
    external_url       text        NOT NULL DEFAULT '',
    complainant        jsonb       NOT NULL DEFAULT '{}',
    language           text        NOT NULL DEFAULT '',
    category           text        NOT NULL DEFAULT '',
    severity           smallint    NOT NULL DEFAULT 0, -- kesu.complaint.v1.Severity
    contacts           integer     NOT NULL DEFAULT 1,
    occurred_at        timestamptz NOT NULL,
    filed_at           timestamptz NOT NULL,
    updated_at         timestamptz NOT NULL,
    event_count        bigint      NOT NULL,
    last_seq           bigint      NOT NULL            -- COMPLAINTS stream sequence of the last event applied
);

CREATE INDEX complaints_shop_filed ON intake.complaints (shop_id, filed_at DESC);
CREATE INDEX complaints_shop_customer ON intake.complaints (shop_id, customer_ref);
CREATE INDEX complaints_shop_order ON intake.complaints (shop_id, order_id) WHERE order_id <> '';
CREATE INDEX complaints_external ON intake.complaints (external_source, external_id) WHERE external_id <> '';

-- Per-customer data keys (kit/pii): wrapped by the KEK, NULL once erased.
CREATE TABLE intake.customer_keys (
    shop_id      text        NOT NULL,
    customer_ref text        NOT NULL,
    key_id       uuid        NOT NULL UNIQUE,
    wrapped_key  bytea,
    created_at   timestamptz NOT NULL DEFAULT now(),
    erased_at    timestamptz,
    PRIMARY KEY (shop_id, customer_ref)
);
