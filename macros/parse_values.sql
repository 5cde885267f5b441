{#-
    Strict grammars for raw values (docs/metric_decisions.md, "Raw values"). Each
    returns the typed value, or NULL when the text does not follow the grammar
    (never a rounded or guessed value); staging quarantines a non-blank value that
    gives NULL as invalid_value. The input is trimmed text (NULL when blank).
    Portable SQL on top of matches_pattern and cast_or_null, so there is no engine
    variant here.
-#}

{#- Money: optional sign, 1 to 16 digits, optionally a point and 1 to
    `max_decimals` digits (an SQL expression: the currency's minor units, at most
    2, the stored scale). No exponent, no thousands separator, no currency sign:
    1e3, 1_000, 1,000.00 and $5 are invalid, 12.505 in a 2-decimal currency too. -#}
{% macro parse_money(expression, max_decimals='2') -%}
    case
        when
            {{ matches_pattern(expression, '[+-]?[0-9]{1,16}([.][0-9]{1,2})?') }}
            and length(split_part({{ expression }}, '.', 2)) <= {{ max_decimals }}
            then {{ cast_or_null(expression, 'decimal(18, 2)') }}
    end
{%- endmacro %}

{#- Integers: optional sign (only when signed) and 1 to 9 digits; 8.6, 6.5, 1e1
    are invalid (a score is never rounded). -#}
{% macro parse_integer(expression, signed=true) -%}
    case
        when {{ matches_pattern(expression, '[+-]?[0-9]{1,9}' if signed else '[+]?[0-9]{1,9}') }}
            then {{ cast_or_null(expression, 'integer') }}
    end
{%- endmacro %}

{#- A calendar date YYYY-MM-DD (an impossible date such as 2024-02-30 is NULL). -#}
{% macro parse_date(expression) -%}
    case
        when {{ matches_pattern(expression, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
            then {{ cast_or_null(expression, 'date') }}
    end
{%- endmacro %}

{#- Booleans: true/1/yes/t/y and false/0/no/f/n in any case; anything else NULL
    (and quarantined when not blank: never silently false). -#}
{% macro parse_boolean(expression) -%}
    case
        when lower({{ expression }}) in ('true', '1', 'yes', 't', 'y') then true
        when lower({{ expression }}) in ('false', '0', 'no', 'f', 'n') then false
    end
{%- endmacro %}

{#- A raw value that was given (not blank) but did not parse. -#}
{% macro is_invalid(raw_expression, parsed_expression) -%}
    ({{ raw_expression }} is not null and {{ parsed_expression }} is null)
{%- endmacro %}
