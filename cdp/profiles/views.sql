-- Documented analyst views over the warehouse tables (created by cdp.warehouse on every
-- build; the warehouse is rebuilt from the lake each run, so views are never migrated).
-- Tables are written in parallel, so their row order is unspecified: say ORDER BY.

-- v_customer_360: one row per customer, the profile an analyst or a CRM sync reads.
CREATE VIEW v_customer_360 AS
SELECT
    c.customer_id,                 -- stable id across runs (see customer_id_changes)
    c.first_name,                  -- golden values, chosen by [profiles.survivorship]
    c.last_name,
    c.email,                       -- lower-case, valid only
    c.phone,                       -- E.164
    c.city,
    c.postal_code,
    c.country,                     -- ISO 3166-1 alpha-2
    c.birthday,                    -- 'MM-DD' of the golden birth date
    c.funnel_stage,                -- visitor | lead | customer | repeat_customer
    c.rfm_segment,                 -- champions, loyal, ... (null when no purchase)
    c.rfm_score,                   -- recency, frequency, monetary quintiles 1-5, e.g. '545'
    c.orders_count,                -- purchases counted once (see purchase_basis)
    c.purchase_basis,              -- orders | payments | events: the tier purchases come from
    c.lifetime_value,              -- net of refunds, in `currency` (customer_ltv has all)
    c.currency,                    -- the customer's main currency
    c.average_order_value,         -- lifetime_value / purchases in that currency
    c.last_order_at,
    c.first_seen,                  -- first and last interaction of any kind
    c.last_seen,
    c.acquisition_source,          -- first campaign touch (UTM / traffic source) or lead form
    c.acquisition_campaign,
    c.preferred_contact_channel,   -- email when known, else phone
    c.consent_marketing,           -- latest stated value per purpose; never stated = false
    c.consent_analytics,
    c.consent_ads,
    c.records,                     -- source records merged into this customer
    c.sources,                     -- sources those records came from
    (SELECT count(*) FROM customer_identifiers i WHERE i.customer_id = c.customer_id)
        AS identifiers             -- distinct identifier values (emails, phones, ids)
FROM customers c;

-- v_orders: the purchases that count towards orders_count and lifetime value, one row
-- each (a purchase seen as shop order, Stripe charge and web event appears once).
CREATE VIEW v_orders AS
SELECT
    p.customer_id,
    p.source,                      -- where the counted record came from
    p.record_id,                   -- its natural key in that source
    p.occurred_at AS ordered_at,
    p.purchase_basis,              -- orders | payments | events
    p.status,                      -- lower-case source status
    p.currency,                    -- ISO 4217 ('XXX' when the source had none)
    p.amount,                      -- gross, major units
    p.refunded,                    -- refunded part (full amount when status is refunded)
    p.net,                         -- amount - refunded
    p.items,                       -- SKUs or product names
    p.payment_method
FROM customer_purchases p;

-- v_segments: customers per funnel stage and RFM segment, with money per currency.
CREATE VIEW v_segments AS
SELECT
    c.funnel_stage,
    coalesce(c.rfm_segment, '(no purchase)') AS rfm_segment,
    c.currency,                                  -- main currency (null without purchases)
    count(*) AS customers,                       -- customers in the group
    sum(c.orders_count) AS orders,               -- purchases counted once
    sum(c.lifetime_value) AS lifetime_value,     -- net revenue in that currency
    avg(c.lifetime_value) AS avg_lifetime_value,
    avg(CASE WHEN c.consent_ads THEN 1 ELSE 0 END) AS share_consent_ads
FROM customers c
GROUP BY ALL;

-- v_customers_masked: the profile without direct identifiers, for analysts who only need
-- segments and money (pseudonymised data is still personal data: keep access limited).
CREATE VIEW v_customers_masked AS
SELECT
    c.customer_id,
    sha256(c.email) AS email_sha256,             -- join key to hashed audiences, not reversible
    split_part(c.email, '@', 2) AS email_domain,  -- e.g. 'gmail.com'
    CASE WHEN c.phone IS NOT NULL THEN '***' || right(c.phone, 3) END AS phone_last3,
    c.city,
    c.country,
    c.funnel_stage,
    c.rfm_segment,
    c.orders_count,
    c.lifetime_value,
    c.currency,
    c.first_seen,
    c.last_seen,
    c.consent_marketing,
    c.consent_analytics,
    c.consent_ads
FROM customers c;
