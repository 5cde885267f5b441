with

states as (
    select * from {{ ref('int_customers_periods_stated') }}
    where is_lost
),

responses as (
    select * from {{ ref('stg_surveys__responses') }}
    where survey_type = 'exit' and not is_test_account
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

exit_reasons as (
    select * from {{ ref('exit_reasons') }}
),

categories as (
    select distinct reason_category from exit_reasons
    union all
    select 'no_answer' as reason_category
),

-- A lost customer's reason: their latest exit answer dated on or after their
-- last purchase and on or before the as-of date; none (or a blank reason)
-- counts as no_answer.
latest_answers as (
    select
        states.customer_id,
        states.period_start,
        responses.exit_reason_category,
        row_number() over (
            partition by states.customer_id, states.period_start
            order by responses.responded_at desc, responses.response_id desc
        ) as answer_rank
    from states
    cross join as_of
    inner join responses
        on
            states.customer_id = responses.customer_id
            and states.last_purchase_date_at_end <= responses.response_date
            and as_of.as_of_date >= responses.response_date
),

attributed as (
    select
        states.period_start,
        coalesce(latest_answers.exit_reason_category, 'no_answer')
            as reason_category
    from states
    left join latest_answers
        on
            states.customer_id = latest_answers.customer_id
            and states.period_start = latest_answers.period_start
            and latest_answers.answer_rank = 1
),

counted as (
    select
        period_start,
        reason_category,
        count(*) as customers_in_category
    from attributed
    group by period_start, reason_category
),

churned as (
    select
        period_start,
        count(*) as churned_customers
    from states
    group by period_start
),

grid as (
    select
        periods.period_start,
        periods.period_end,
        periods.is_complete_period,
        categories.reason_category,
        coalesce(churned.churned_customers, 0) as churned_customers
    from periods
    cross join categories
    left join churned
        on periods.period_start = churned.period_start
),

final as (
    select
        {{ dbt.concat([
            "cast(grid.period_start as " ~ dbt.type_string() ~ ")",
            "'|'", "grid.reason_category"]) }} as churn_reason_id,
        grid.period_start,
        grid.period_end,
        grid.is_complete_period,
        grid.reason_category,
        grid.churned_customers,
        coalesce(counted.customers_in_category, 0) as customers_in_category,
        {{ safe_pct('coalesce(counted.customers_in_category, 0)',
            'grid.churned_customers') }} as share_of_churned_pct
    from grid
    left join counted
        on
            grid.period_start = counted.period_start
            and grid.reason_category = counted.reason_category
)

select * from final
