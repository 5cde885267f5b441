-- Every combination of recency, frequency and monetary scores (1-5 each)
-- matches at least one rule of seed rfm_segments, so no customer can be left
-- without a segment whatever the data. Returns the uncovered combinations.
with

rules as (
    select * from {{ ref('rfm_segments') }}
),

scores as (
    select score_values.score
    from (values (1), (2), (3), (4), (5)) as score_values (score)
),

combinations as (
    select
        recency.score as recency_score,
        frequency.score as frequency_score,
        monetary.score as monetary_score
    from scores as recency
    cross join scores as frequency
    cross join scores as monetary
),

matched as (
    select
        combinations.recency_score,
        combinations.frequency_score,
        combinations.monetary_score,
        count(rules.rule_order) as matching_rules
    from combinations
    left join rules
        on
            combinations.recency_score
            between rules.min_recency_score and rules.max_recency_score
            and combinations.frequency_score
            between rules.min_frequency_score and rules.max_frequency_score
            and combinations.monetary_score
            between rules.min_monetary_score and rules.max_monetary_score
    group by
        combinations.recency_score,
        combinations.frequency_score,
        combinations.monetary_score
),

final as (
    select * from matched
    where matching_rules = 0
)

select * from final
