-- One row per clean survey response of a real person dated on or before the
-- as-of date: the survey flags every survey KPI is a count or mean of
-- (fct_retention_kpis per period and segment, the semantic layer by any
-- customer attribute), decided here once. Promoters, detractors and
-- satisfied answers by the survey type's thresholds (seed survey_types).
with

responses as (
    select * from {{ ref('stg_surveys__responses') }}
    where not is_test_account
),

people as (
    select * from {{ ref('int_customers_summarised') }}
),

survey_types as (
    select * from {{ ref('survey_types') }}
),

as_of as (
    select * from {{ ref('int_as_of_dates_resolved') }}
),

scored as (
    select
        responses.*,
        -- Survey KPIs count customers only: people acquired on or before the
        -- day they answered.
        coalesce(responses.response_date >= people.acquisition_date, false)
            as is_from_customer,
        coalesce(responses.score >= survey_types.positive_min_score, false)
            as is_positive,
        coalesce(responses.score <= survey_types.negative_max_score, false)
            as is_negative
    from responses
    cross join as_of
    left join people
        on responses.customer_id = people.customer_id
    left join survey_types
        on responses.survey_type = survey_types.survey_type
    where responses.response_date <= as_of.as_of_date
),

final as (
    select
        response_id,
        invitation_id,
        {{ hash_pii('customer_id') }} as customer_key,
        survey_type,
        response_date,
        {{ period_start('response_date') }} as response_period_start,
        cast(score as integer) as score,
        is_from_customer,
        survey_type = 'nps' and is_positive as is_promoter,
        survey_type = 'nps' and not is_positive and not is_negative
            as is_passive,
        survey_type = 'nps' and is_negative as is_detractor,
        survey_type = 'csat' and is_positive as is_satisfied,
        case
            when survey_type = 'ces' then cast(score as integer)
        end as ces_score
    from scored
)

select * from final
