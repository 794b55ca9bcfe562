-- What FindComplaints searches and GetComplaint shows beyond the filing.
ALTER TABLE intake.complaints
    ADD COLUMN risk_signals   text[]   NOT NULL DEFAULT '{}',
    ADD COLUMN evidence_count integer  NOT NULL DEFAULT 0,
    ADD COLUMN external_refs  jsonb    NOT NULL DEFAULT '[]', -- every ref linked, [{"source":…,"external_id":…,"url":…}]
    ADD COLUMN customer_type  smallint NOT NULL DEFAULT 0;    -- kesu.complaint.v1.CustomerType

-- Any linked ref finds its complaint: external_refs @> '[{"source":"tmall","external_id":"123"}]'.
CREATE INDEX complaints_external_refs ON intake.complaints USING gin (external_refs jsonb_path_ops);
DROP INDEX intake.complaints_external;
CREATE INDEX complaints_shop_status_filed ON intake.complaints (shop_id, status, filed_at DESC);
