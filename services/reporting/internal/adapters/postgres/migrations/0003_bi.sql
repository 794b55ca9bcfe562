-- The bi schema (DESIGN §4): stable, documented views for BI tools over the
-- reporting projections. docs/bi.md documents every column; a test keeps the
-- two in step. Change a view only by adding columns at the end.
CREATE SCHEMA IF NOT EXISTS bi;
COMMENT ON SCHEMA bi IS 'Kesu BI views: one row per complaint, one row per event, daily metrics (docs/bi.md)';

CREATE VIEW bi.complaints AS
SELECT f.complaint_id,
       f.shop_id,
       f.season,
       f.phase,
       f.filed_at,
       f.filed_day,
       f.channel,
       f.category,
       f.severity,
       f.customer_type,
       f.sku_id,
       f.product_name,
       f.order_amount_fen,
       f.claimed_amount_fen,
       f.major,
       f.major_reasons,
       f.status,
       f.first_response_seconds,
       f.answered_30s,
       coalesce(f.first_response_seconds <= 7200, false)  AS answered_within_2h,
       coalesce(f.first_response_seconds <= 86400, false) AS answered_within_24h,
       f.first_resolved_at,
       f.resolved_at,
       f.resolved_phase,
       f.resolution_seconds,
       f.resolved_within_72h,
       f.resolutions,
       f.outcome,
       f.remedy_kind,
       f.remedy_amount_fen,
       f.retention,
       f.reopens,
       f.reopens > 0 AS reopened,
       f.contacts,
       f.repeat_contacts,
       f.transfers,
       f.team,
       f.agent_id,
       f.agent_tier,
       f.escalation_level,
       CASE f.escalation_level WHEN 1 THEN 'agent' WHEN 2 THEN 'supervisor' WHEN 3 THEN 'platform' WHEN 4 THEN 'pr' ELSE '' END AS escalation_level_name,
       f.escalations,
       f.escalation_trigger,
       f.breach_first_response + f.breach_next_response + f.breach_resolution + f.breach_odr + f.breach_promise + f.breach_follow_up AS breaches,
       f.breach_first_response,
       f.breach_next_response,
       f.breach_resolution,
       f.breach_odr,
       f.breach_promise,
       f.breach_follow_up,
       f.promises_made,
       f.promises_broken,
       f.follow_ups,
       f.follow_up_reached,
       f.satisfaction,
       f.satisfaction_score,
       f.closed_at,
       f.close_reason,
       CASE WHEN f.personal_erased THEN 'erased' ELSE 'masked' END AS personal_data,
       f.last_event_at,
       f.event_count
  FROM reporting.complaint_facts f;

CREATE VIEW bi.events AS
SELECT e.stream_seq,
       e.event_id,
       e.complaint_id,
       e.shop_id,
       e.event_type,
       e.occurred_at,
       e.recorded_at,
       e.actor_kind,
       e.actor_id,
       e.actor_role,
       e.channel,
       e.agent_id,
       e.queue,
       e.code,
       e.level,
       e.amount_fen,
       e.seconds,
       CASE WHEN NOT e.has_personal THEN ''
            WHEN coalesce(f.personal_erased, false) THEN 'erased'
            ELSE 'masked' END AS personal_data,
       e.correlation_id,
       e.causation_id
  FROM reporting.events e
  LEFT JOIN reporting.complaint_facts f USING (complaint_id);

CREATE VIEW bi.daily_metrics AS
SELECT f.shop_id,
       f.season,
       f.filed_day AS day,
       f.phase,
       f.channel,
       f.category,
       count(*)                                                              AS complaints,
       count(f.first_response_seconds)                                       AS responded,
       avg(f.first_response_seconds)::double precision                       AS first_response_mean_seconds,
       count(*) FILTER (WHERE f.channel = 'online_chat')                     AS chat_complaints,
       count(*) FILTER (WHERE f.answered_30s)                                AS chat_answered_30s,
       count(*) FILTER (WHERE f.first_response_seconds <= 7200)              AS answered_within_2h,
       count(*) FILTER (WHERE f.first_response_seconds <= 86400)             AS answered_within_24h,
       count(*) FILTER (WHERE f.status <> 'open')                            AS resolved,
       count(*) FILTER (WHERE f.resolved_within_72h)                         AS resolved_within_72h,
       coalesce(sum(f.remedy_amount_fen) FILTER (WHERE f.status <> 'open'), 0)::bigint AS remedy_amount_fen,
       count(*) FILTER (WHERE f.escalations > 0)                             AS escalated,
       count(*) FILTER (WHERE f.major)                                       AS major,
       sum(f.breach_first_response + f.breach_next_response + f.breach_resolution
           + f.breach_odr + f.breach_promise + f.breach_follow_up)::bigint   AS breaches,
       count(*) FILTER (WHERE f.contacts > 1)                                AS repeat,
       count(*) FILTER (WHERE f.transfers > 0)                               AS transferred,
       count(*) FILTER (WHERE f.reopens > 0)                                 AS reopened,
       count(*) FILTER (WHERE f.satisfaction <> '')                          AS rated,
       count(*) FILTER (WHERE f.satisfaction = 'satisfied')                  AS satisfied,
       count(*) FILTER (WHERE f.status = 'open')                             AS open
  FROM reporting.complaint_facts f
 GROUP BY f.shop_id, f.season, f.filed_day, f.phase, f.channel, f.category;

-- The read-only role analysts' logins are granted (GRANT bi TO alice). Roles
-- are cluster-wide and several databases (test databases, two installs) may
-- share a cluster, so creating it must tolerate that it exists or is being
-- created concurrently.
DO $$
BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'bi') THEN
        CREATE ROLE bi NOLOGIN;
    END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
    NULL;
END
$$;

-- A later migration that adds a view repeats the GRANT SELECT.
GRANT USAGE ON SCHEMA bi TO bi;
GRANT SELECT ON ALL TABLES IN SCHEMA bi TO bi;
