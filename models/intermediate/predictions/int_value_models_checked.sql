-- The fitted value models, and the build's stop when a fit did not converge:
-- int_value_models_fitted (a dbt Python model) records a failed fit as rows
-- with is_converged false and the reason in fit_message; this model fails
-- with that message (macro fail_query), so dbt reports one clear line and
-- nothing downstream is built from a fit that does not hold.
with

fitted as (
    select * from {{ ref('int_value_models_fitted') }}
),

-- A failed fit writes the same message on each of its rows.
failures as (
    select max(cast(fit_message as {{ dbt.type_string() }})) as message
    from fitted
    where not is_converged
),

final as (
    select
        fitted.parameter_key,
        fitted.model_name,
        fitted.parameter_name,
        fitted.parameter_value,
        fitted.standard_error,
        fitted.log_likelihood,
        fitted.is_converged,
        fitted.iterations,
        fitted.gradient_norm,
        fitted.customers_fitted,
        fitted.time_unit,
        fitted.days_per_unit,
        fitted.as_of_date,
        fitted.fit_note
    from fitted
    cross join failures
    where
        case
            when failures.message is null then true
            else {{ fail_query('failures.message') }}
        end
)

select * from final
