with

-- The state model is imported once per use. A CTE read more than once is
-- stored by DuckDB before it is read (12.7 M state rows at 1M customers: 10 s
-- of this mart's 15 s); one read once is folded into its query, which then
-- reads only the columns it uses.
states as (
    select * from {{ ref('int_customers_periods_stated') }}
),

states_of_responses as (
    select * from {{ ref('int_customers_periods_stated') }}
),

states_of_invitations as (
    select * from {{ ref('int_customers_periods_stated') }}
),

periods as (
    select * from {{ ref('int_periods_spined') }}
),

tiers as (
    select * from {{ ref('int_customers_months_tiered') }}
),

people as (
    select * from {{ ref('int_customers_summarised') }}
),

invitations as (
    select * from {{ ref('stg_surveys__invitations') }}
    where not is_test_account
),

-- The survey flags are decided once, per response (dated on or before the
-- as-of date), in fct_survey_responses; here they are counted.
survey_responses as (
    select * from {{ ref('fct_survey_responses') }}
),

-- Every aggregation below counts each row once per segment it belongs to
-- (macros/segment_rows.sql; the segments: var period_segments).
states_segmented as (
    {{ segment_rows('states') }}
),

state_counts as (
    select
        period_start,
        segment_type,
        segment_value,
        count(case when is_active_at_start then 1 end)
            as customers_at_start,
        count(case when is_active_at_end then 1 end) as customers_at_end,
        count(case when is_new then 1 end) as new_customers,
        count(case when is_reactivated then 1 end)
            as reactivated_customers,
        count(case when is_lost then 1 end) as lost_customers,
        count(case when is_at_risk_at_end then 1 end)
            as at_risk_customers_at_end,
        count(case when is_referred_new then 1 end)
            as referred_new_customers,
        -- Purchases are summed per customer and period in the state model,
        -- so they are segmented without joining every order to the states.
        -- One aggregate for both, so the segmented rows are read once (a CTE
        -- read twice is stored: 51 M rows at 1M customers).
        cast(sum(purchases_in_period) as bigint) as purchases,
        count(case when purchases_in_period > 0 then 1 end)
            as purchasing_customers,
        sum(net_revenue_in_period) as net_revenue,
        {{ safe_ratio('sum(days_since_previous_purchase_total)',
            'sum(purchases_with_previous)') }}
            as repeat_purchase_interval_days
    from states_segmented
    group by period_start, segment_type, segment_value
),

-- Survey KPIs count customers only: people acquired on or before the day
-- they answered (or were invited), in the period of that day, segmented by
-- the customer's state row of that period.
responses_stated as (
    select
        states_of_responses.*,
        survey_responses.survey_type,
        survey_responses.is_promoter,
        survey_responses.is_detractor,
        survey_responses.is_satisfied,
        survey_responses.ces_score
    from survey_responses
    inner join states_of_responses
        on
            survey_responses.customer_key = states_of_responses.customer_key
            and survey_responses.response_period_start
            = states_of_responses.period_start
    where survey_responses.is_from_customer
),

responses_segmented as (
    {{ segment_rows('responses_stated') }}
),

response_counts as (
    select
        period_start,
        segment_type,
        segment_value,
        count(case when survey_type = 'nps' then 1 end) as nps_responses,
        count(case when is_promoter then 1 end) as nps_promoters,
        count(case when is_detractor then 1 end) as nps_detractors,
        count(case when survey_type = 'csat' then 1 end)
            as csat_responses,
        count(case when is_satisfied then 1 end) as csat_satisfied,
        count(case when survey_type = 'ces' then 1 end) as ces_responses,
        avg(cast(ces_score as {{ type_double() }})) as ces
    from responses_segmented
    group by period_start, segment_type, segment_value
),

invitations_stated as (
    select
        states_of_invitations.*,
        invitations.survey_type,
        survey_responses.invitation_id is not null as is_answered
    from invitations
    inner join states_of_invitations
        on
            invitations.customer_id = states_of_invitations.customer_id
            and {{ period_start('invitations.sent_date') }}
            = states_of_invitations.period_start
            and invitations.sent_date >= states_of_invitations.acquisition_date
            and invitations.sent_date <= states_of_invitations.effective_end
    left join survey_responses
        on invitations.invitation_id = survey_responses.invitation_id
),

invitations_segmented as (
    {{ segment_rows('invitations_stated') }}
),

invitation_counts as (
    select
        period_start,
        segment_type,
        segment_value,
        {% for survey_type in ['nps', 'csat', 'ces', 'exit'] %}
            count(case when survey_type = '{{ survey_type }}' then 1 end)
                as {{ survey_type }}_invitations,
            count(
                case
                    when survey_type = '{{ survey_type }}' and is_answered
                        then 1
                end
            ) as {{ survey_type }}_invitations_answered
            {%- if not loop.last %},{% endif %}
        {% endfor %}
    from invitations_segmented
    group by period_start, segment_type, segment_value
),

-- Funnel: CRM signups in the period and leads (signed up, no purchase yet)
-- at the period end; not defined for the tier segment (leads have no tier).
people_periods as (
    select
        periods.period_start,
        people.*,
        {{ period_start('people.signup_date') }} = periods.period_start
            as is_signup_in_period,
        people.acquisition_date is null
        or people.acquisition_date > periods.effective_end as is_lead_at_end
    from periods
    inner join people
        on periods.effective_end >= people.signup_date
),

people_segmented as (
    {{ segment_rows('people_periods', exclude=['tier']) }}
),

funnel_counts as (
    select
        period_start,
        segment_type,
        segment_value,
        count(case when is_signup_in_period then 1 end) as signups,
        count(case when is_lead_at_end then 1 end) as leads_at_end
    from people_segmented
    group by period_start, segment_type, segment_value
),

-- Every period x segment with a customer acquired by the period end, even
-- when all of them are dormant in it (the state model has rows only where a
-- customer can count): such a segment has its row, with zero counts.
acquisitions as (
    select
        region,
        acquisition_channel,
        min({{ period_start('acquisition_date') }}) as first_period_start
    from people
    where not is_lead
    group by region, acquisition_channel
),

-- Who is there in each period, without a row per customer: each region and
-- channel pair from its first acquisition on, and the tiers customers hold at
-- the period end. Segmented like the counts; a value the row does not carry
-- (the tier of a region row, the region of a tier row) is left out.
population as (
    select
        periods.period_start,
        acquisitions.region,
        acquisitions.acquisition_channel,
        cast(null as {{ dbt.type_string() }}) as tier_at_end
    from periods
    inner join acquisitions
        on periods.period_start >= acquisitions.first_period_start
    union all
    select distinct
        periods.period_start,
        cast(null as {{ dbt.type_string() }}) as region,
        cast(null as {{ dbt.type_string() }}) as acquisition_channel,
        tiers.tier_name as tier_at_end
    from periods
    inner join tiers
        on {{ month_start('periods.effective_end') }} = tiers.month_start
),

population_segmented as (
    {{ segment_rows('population') }}
),

population_keys as (
    select distinct
        period_start,
        segment_type,
        segment_value
    from population_segmented
    where segment_value is not null
),

-- Rows: every period x segment with customers, plus segments that so far
-- only have signups (their funnel counts must not be lost).
segment_keys as (
    select
        period_start,
        segment_type,
        segment_value
    from population_keys
    union
    select
        period_start,
        segment_type,
        segment_value
    from state_counts
    union
    select
        period_start,
        segment_type,
        segment_value
    from funnel_counts
),

joined as (
    select
        segment_keys.period_start,
        segment_keys.segment_type,
        segment_keys.segment_value,
        coalesce(state_counts.customers_at_start, 0) as customers_at_start,
        coalesce(state_counts.customers_at_end, 0) as customers_at_end,
        coalesce(state_counts.new_customers, 0) as new_customers,
        coalesce(state_counts.reactivated_customers, 0)
            as reactivated_customers,
        coalesce(state_counts.lost_customers, 0) as lost_customers,
        coalesce(state_counts.at_risk_customers_at_end, 0)
            as at_risk_customers_at_end,
        coalesce(state_counts.referred_new_customers, 0)
            as referred_new_customers,
        periods.period_end,
        periods.effective_end,
        periods.is_complete_period,
        coalesce(state_counts.purchases, 0) as purchases,
        coalesce(state_counts.purchasing_customers, 0)
            as purchasing_customers,
        cast(coalesce(state_counts.net_revenue, 0) as decimal(18, 2))
            as net_revenue,
        state_counts.repeat_purchase_interval_days,
        coalesce(response_counts.nps_responses, 0) as nps_responses,
        coalesce(response_counts.nps_promoters, 0) as nps_promoters,
        coalesce(response_counts.nps_detractors, 0) as nps_detractors,
        coalesce(response_counts.csat_responses, 0) as csat_responses,
        coalesce(response_counts.csat_satisfied, 0) as csat_satisfied,
        coalesce(response_counts.ces_responses, 0) as ces_responses,
        response_counts.ces,
        {% for survey_type in ['nps', 'csat', 'ces', 'exit'] %}
            coalesce(invitation_counts.{{ survey_type }}_invitations, 0)
                as {{ survey_type }}_invitations,
            coalesce(
                invitation_counts.{{ survey_type }}_invitations_answered, 0
            ) as {{ survey_type }}_invitations_answered,
        {% endfor %}
        funnel_counts.signups,
        funnel_counts.leads_at_end
    from segment_keys
    inner join periods
        on segment_keys.period_start = periods.period_start
    left join state_counts
        on
            segment_keys.period_start = state_counts.period_start
            and segment_keys.segment_type = state_counts.segment_type
            and segment_keys.segment_value = state_counts.segment_value
    left join response_counts
        on
            segment_keys.period_start = response_counts.period_start
            and segment_keys.segment_type = response_counts.segment_type
            and segment_keys.segment_value = response_counts.segment_value
    left join invitation_counts
        on
            segment_keys.period_start = invitation_counts.period_start
            and segment_keys.segment_type = invitation_counts.segment_type
            and segment_keys.segment_value = invitation_counts.segment_value
    left join funnel_counts
        on
            segment_keys.period_start = funnel_counts.period_start
            and segment_keys.segment_type = funnel_counts.segment_type
            and segment_keys.segment_value = funnel_counts.segment_value
),

final as (
    select
        {{ dbt.concat([
            "cast(period_start as " ~ dbt.type_string() ~ ")",
            "'|'", "segment_type", "'|'", "segment_value"]) }} as kpi_id,
        period_start,
        period_end,
        effective_end,
        is_complete_period,
        segment_type,
        segment_value,
        customers_at_start,
        customers_at_end,
        new_customers,
        reactivated_customers,
        lost_customers,
        at_risk_customers_at_end,
        {{ safe_pct('customers_at_end - new_customers', 'customers_at_start') }}
            as customer_retention_rate,
        {{ safe_pct(
            'customers_at_start - lost_customers', 'customers_at_start') }}
            as strict_retention_rate,
        {{ safe_pct('lost_customers', 'customers_at_start') }} as churn_rate,
        purchases,
        purchasing_customers,
        net_revenue,
        {{ safe_ratio('net_revenue', 'purchases') }} as average_order_value,
        {{ safe_ratio('purchases', 'purchasing_customers') }}
            as purchase_frequency,
        repeat_purchase_interval_days,
        referred_new_customers,
        {{ safe_pct('referred_new_customers', 'new_customers') }}
            as referral_rate,
        nps_responses,
        nps_promoters,
        nps_detractors,
        {{ safe_pct('nps_promoters - nps_detractors', 'nps_responses') }}
            as nps,
        csat_responses,
        csat_satisfied,
        {{ safe_pct('csat_satisfied', 'csat_responses') }} as csat,
        ces_responses,
        ces,
        {% for survey_type in ['nps', 'csat', 'ces', 'exit'] %}
            {{ survey_type }}_invitations,
            {{ survey_type }}_invitations_answered,
            {{ safe_pct(survey_type ~ '_invitations_answered',
                survey_type ~ '_invitations') }}
                as {{ survey_type }}_response_rate,
        {% endfor %}
        signups,
        leads_at_end
    from joined
)

select * from final
