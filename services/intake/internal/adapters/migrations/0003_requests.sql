-- FileComplaint's client request ids, folded by the projection from the
-- Kesu-Request headers of the filings it applies: a request id reused for
-- different content is refused. Retries do not need it (the complaint stream
-- answers them); it only catches reuse across orders.
CREATE TABLE intake.requests (
    request_key  text PRIMARY KEY,  -- app.requestKey(shop, client request id)
    complaint_id uuid NOT NULL,
    fingerprint  text NOT NULL      -- of the request's content
);
