-- The fitted BG/NBD and Gamma-Gamma parameters (int_value_models_checked:
-- converged fits of a dbt Python model), one row per parameter, with each
-- model's log-likelihood and convergence flag.
with

parameters as (
    select * from {{ ref('int_value_models_checked') }}
),

final as (
    select
        parameter_key,
        model_name,
        parameter_name,
        parameter_value,
        standard_error,
        log_likelihood,
        is_converged,
        iterations,
        gradient_norm,
        customers_fitted,
        time_unit,
        days_per_unit,
        cast(as_of_date as date) as as_of_date,
        fit_note
    from parameters
)

select * from final
