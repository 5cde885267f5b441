-- One row per customer (a person with a purchase) at the as-of date: the
-- purchase history the value models need and the RFM scores and segment.
-- A transaction is a purchase day: a customer's purchases on one UTC date
-- count once, at their summed net revenue. frequency = repeat purchase days,
-- recency_days = last - first purchase day, age_days = as-of - first purchase
-- day (the BG/NBD's x, t_x and T, in days), monetary_value = mean net revenue
-- of the repeat purchase days (NULL without one). Scores 1-5: 1 + floor(5 x
-- the share of customers strictly worse), so ties share a score and the worst
-- value scores 1. The segment is the first rule of seed rfm_segments (by
-- rule_order) whose score ranges hold all three scores.
with

customers as (
    select * from {{ ref('int_customers_summarised') }}
    where not is_lead
),

orders as (
    select * from {{ ref('int_orders_netted') }}
    where is_purchase
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

segment_rules as (
    select * from {{ ref('rfm_segments') }}
),

purchase_days as (
    select
        customer_id,
        order_date,
        sum(net_revenue) as day_net_revenue
    from orders
    group by customer_id, order_date
),

numbered_days as (
    select
        *,
        row_number() over (
            partition by customer_id order by order_date
        ) as day_number
    from purchase_days
),

histories as (
    select
        customer_id,
        count(*) - 1 as frequency,
        min(order_date) as first_purchase_date,
        max(order_date) as last_purchase_date,
        sum(
            case when day_number > 1 then day_net_revenue else 0 end
        ) as repeat_net_revenue
    from numbered_days
    group by customer_id
),

measured as (
    select
        customers.customer_id,
        as_of.as_of_date,
        histories.first_purchase_date,
        histories.last_purchase_date,
        histories.frequency,
        {{ dbt.datediff('histories.first_purchase_date',
            'histories.last_purchase_date', 'day') }} as recency_days,
        {{ dbt.datediff('histories.first_purchase_date', 'as_of.as_of_date',
            'day') }} as age_days,
        {{ dbt.datediff('histories.last_purchase_date', 'as_of.as_of_date',
            'day') }} as days_since_last_purchase,
        {{ safe_ratio('histories.repeat_net_revenue', 'histories.frequency') }}
            as monetary_value,
        customers.closed_date is not null as is_closed
    from customers
    cross join as_of
    inner join histories
        on customers.customer_id = histories.customer_id
),

-- rank() counts the customers strictly worse plus one; higher scores are
-- better: more recent, more repeat purchase days, higher repeat spend.
ranked as (
    select
        *,
        count(*) over () as customers,
        rank() over (
            order by days_since_last_purchase desc
        ) as recency_rank,
        rank() over (order by frequency asc) as frequency_rank,
        rank() over (
            order by monetary_value asc nulls first
        ) as monetary_rank
    from measured
),

scored as (
    select
        *,
        cast(
            1 + floor(5.0 * (recency_rank - 1) / customers) as integer
        ) as recency_score,
        cast(
            1 + floor(5.0 * (frequency_rank - 1) / customers) as integer
        ) as frequency_score,
        cast(
            1 + floor(5.0 * (monetary_rank - 1) / customers) as integer
        ) as monetary_score
    from ranked
),

matched as (
    select
        scored.customer_id,
        segment_rules.segment_name,
        row_number() over (
            partition by scored.customer_id
            order by segment_rules.rule_order
        ) as match_number
    from scored
    inner join segment_rules
        on
            scored.recency_score between segment_rules.min_recency_score
            and segment_rules.max_recency_score
            and scored.frequency_score
            between segment_rules.min_frequency_score
            and segment_rules.max_frequency_score
            and scored.monetary_score
            between segment_rules.min_monetary_score
            and segment_rules.max_monetary_score
),

final as (
    select
        scored.customer_id,
        scored.as_of_date,
        scored.first_purchase_date,
        scored.last_purchase_date,
        scored.frequency,
        scored.recency_days,
        scored.age_days,
        scored.days_since_last_purchase,
        scored.monetary_value,
        scored.is_closed,
        scored.recency_score,
        scored.frequency_score,
        scored.monetary_score,
        matched.segment_name as rfm_segment
    from scored
    left join matched
        on
            scored.customer_id = matched.customer_id
            and matched.match_number = 1
)

select * from final
